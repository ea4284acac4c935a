"""clipdex beside rclip (and clip-retrieval), whole commands from cold processes, one run.

    python -m bench.peers [--images 500] [--rclip PATH] [--clip-retrieval PATH] [--repeats 5]
                          [--index-repeats 1] [--backends auto,onnx,onnx-int8,torch] [--no-process-decode]

Every tool gets random weights of the same architecture, planted offline: rclip's ONNX
files are exported here from open_clip's ViT-B-32-256 (rclip ships that model), and
clipdex exports its own towers once before timing (as rclip's are shipped). Rows:

  index           index the folder from nothing (rclip: its first query, which indexes); with
                  --index-repeats N, N times each, the tools taking turns, the median
  no-change rerun nothing changed (rclip: index check + query)
  cold search     one text query in a new process, the median of --repeats runs, the
                  tools taking turns;
                  clipdex with `--backend torch` is the same query through the PyTorch model
                  (what a search imported before exports described themselves: torch, open_clip)
clipdex's modules are compiled to bytecode first, as an install compiles them.
Peak RSS: GNU time's maximum resident set of the command. The tools
without a path are left out. Prints a table with the CPU flags, writes bench/results/peers.json.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench.common import cpu_flags, print_table, temp_path, write_result
from bench.photos import make_folder

ARCH = "ViT-B-32-256"  # rclip's model
RCLIP_MODEL_DIR = "ViT-B-32-256-datacomp_s34b_b86k"
QUERY = "a red circle"
GNU_TIME = "/usr/bin/time"  # Debian's `time` package


def timed(command: list[str], cwd: str | None = None, env: dict | None = None) -> dict:
    """Wall seconds and peak RSS (MB, the largest process of the tree) of one command, from
    a new process. The RSS is GNU time's: a child's own ru_maxrss from wait4 would start
    at this process's size, which it had before exec."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        started = time.perf_counter()
        proc = subprocess.run([GNU_TIME, "-f", "%M", "-o", rss.name, *command], cwd=cwd, capture_output=True,
                              text=True, env={**os.environ, **(env or {})})
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}): {proc.stderr[-800:]}")
        return {"seconds": seconds, "peak_rss_mb": int(rss.read().split()[-1]) / 1024, "stdout": proc.stdout}


def plant_rclip(datadir: str) -> None:
    """rclip's model files: random ViT-B-32-256 towers (seeded) and the BPE vocabulary."""
    import open_clip
    import torch

    folder = os.path.join(datadir, RCLIP_MODEL_DIR)
    if os.path.exists(os.path.join(folder, "textual.onnx")):
        return
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(0)
    model = open_clip.create_model(ARCH, pretrained=None).eval()

    class Tower(torch.nn.Module):
        def __init__(self, image: bool):
            super().__init__()
            self.model, self.image = model, image

        def forward(self, inputs):
            return self.model.encode_image(inputs) if self.image else self.model.encode_text(inputs)

    torch.backends.mha.set_fastpath_enabled(False)
    names = {"input_names": ["input"], "output_names": ["output"],
             "dynamic_axes": {"input": {0: "b"}, "output": {0: "b"}}, "dynamo": False}
    with torch.no_grad():
        torch.onnx.export(Tower(True), (torch.randn(2, 3, 256, 256),), os.path.join(folder, "visual.onnx"), **names)
        torch.onnx.export(Tower(False), (torch.zeros(2, 77, dtype=torch.long),), os.path.join(folder, "textual.onnx"),
                          **names)
    vocab = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
    os.makedirs(os.path.join(datadir, "tokenizer"), exist_ok=True)
    shutil.copy(vocab, os.path.join(datadir, "tokenizer", os.path.basename(vocab)))


def interleaved(repeats: int, commands: dict[tuple[str, str], tuple[list[str], dict]],
                fresh: dict[tuple[str, str], str] | None = None) -> list[dict]:
    """Each command ``repeats`` times, taking turns (a busy moment of a shared machine
    falls on all of them alike); the median seconds and the largest RSS of each. ``fresh``:
    what to remove before each run of a command (its index, so that it builds from nothing)."""
    runs: dict = {key: [] for key in commands}
    for _ in range(repeats):
        for key, (command, kwargs) in commands.items():
            if fresh and key in fresh:
                _remove(fresh[key])
            runs[key].append(timed(command, **kwargs))
    return [{"tool": tool, "what": what, "seconds": statistics.median(r["seconds"] for r in found),
             "peak_rss_mb": max(r["peak_rss_mb"] for r in found), "runs": [round(r["seconds"], 3) for r in found]}
            for (tool, what), found in runs.items()]


def _remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


class Tool:
    """One tool's commands: its index runs (each from nothing: ``fresh`` says what to remove
    first) and its cold searches, all timed later in turns with the other tool's."""

    def __init__(self):
        self.index: dict[tuple[str, str], tuple[list[str], dict]] = {}
        self.fresh: dict[tuple[str, str], str] = {}
        self.searches: dict[tuple[str, str], tuple[list[str], dict]] = {}
        self.rerun: tuple[list[str], dict] | None = None  # a run that finds nothing changed
        self.note: str | None = None


def clipdex_tool(photos: str, work: str, backends: list[str], process_decode: bool = True) -> Tool:
    clipdex = [sys.executable, "-m", "api.cli"]
    env = {"CLIPDEX_ONNX_CACHE": os.path.join(work, "onnx"), "HF_HUB_OFFLINE": "1"}
    model = f"random:{ARCH}"
    # Bytecode, as pip writes it when it installs (and rclip's install has): a source checkout
    # run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module in each cold process.
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for package in ("api", "indexer", "retrieval"):
        compileall.compile_dir(os.path.join(project, package), quiet=1)
    for extra in ([], ["--int8"]):
        out = timed([*clipdex, "export-onnx", model, *extra], env=env)["stdout"]
    tool = Tool()
    # `export-onnx --int8` measured which precision auto's image tower takes on this machine.
    tool.note = next((line for line in out.splitlines() if line.startswith("auto on this CPU")), None)
    runs = [(backend, "auto") for backend in backends] + ([(backends[0], "processes")] if process_decode else [])
    for backend, decode in runs:
        data = os.path.join(work, f"clipdex-{backend}-{decode}")
        key = ("clipdex", f"index ({backend}{', decode in processes' if decode == 'processes' else ''})")
        tool.index[key] = ([*clipdex, "index", photos, "--model", model, "--backend", backend, "--data-dir", data,
                            "-q"], {"env": {**env, "CLIPDEX_DECODE_WORKERS": decode}})
        tool.fresh[key] = data
    data = os.path.join(work, f"clipdex-{backends[0]}-auto")
    tool.searches = {("clipdex", f"cold search ({backend})"): ([*clipdex, "search", QUERY, "-k", "3", "--backend",
                                                                backend, "--data-dir", data], {"env": env})
                     for backend in ("onnx", "torch")}
    tool.rerun = [*clipdex, "index", photos, "--model", model, "--data-dir", data, "-q"], env
    return tool


def rclip_tool(rclip: str, photos: str, work: str) -> Tool:
    datadir = os.path.join(work, "rclip")
    plant_rclip(datadir)
    command = [rclip, "-f", "-t", "3", QUERY]
    kwargs = {"cwd": photos, "env": {"RCLIP_DATADIR": datadir, "HF_HUB_OFFLINE": "1"}}
    tool = Tool()
    tool.index[("rclip", "index (+ query)")] = command, kwargs  # its first query indexes the folder
    tool.fresh[("rclip", "index (+ query)")] = os.path.join(datadir, "db.sqlite3")
    tool.searches[("rclip", "cold search (index check + query)")] = command, kwargs
    return tool


def plant_clip_retrieval(work: str) -> str:
    """A checkpoint of random ViT-B-32-256 weights (seeded, as rclip's) for clip-retrieval,
    which loads open_clip:ARCH/PATH from a file and would download its default tag otherwise."""
    import open_clip
    import torch

    path = os.path.join(work, "clip-retrieval-random.pt")
    if not os.path.exists(path):
        torch.manual_seed(0)
        torch.save(open_clip.create_model(ARCH, pretrained=None).state_dict(), path)
    return path


def clip_retrieval_tool(executable: str, photos: str, work: str) -> Tool:
    out = os.path.join(work, "clip-retrieval")
    command = [executable, "inference", "--input_dataset", photos, "--output_folder", out, "--clip_model",
               f"open_clip:{ARCH}/{plant_clip_retrieval(work)}", "--num_prepro_workers", "2", "--batch_size", "64",
               "--enable_text", "False", "--enable_metadata", "False"]
    tool = Tool()
    tool.index[("clip-retrieval", "index (inference)")] = command, {"env": {"HF_HUB_OFFLINE": "1"}}
    tool.fresh[("clip-retrieval", "index (inference)")] = out
    return tool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5, help="cold searches of each tool, in turns")
    parser.add_argument("--index-repeats", type=int, default=1,
                        help="index runs of each tool from nothing, in turns (the median is reported)")
    parser.add_argument("--rclip", help="the rclip executable (a venv with `pip install rclip`)")
    parser.add_argument("--clip-retrieval", help="the clip-retrieval executable")
    parser.add_argument("--backends", default="auto,onnx,onnx-int8,torch")
    parser.add_argument("--work", default=temp_path("clipdex-peers"))
    parser.add_argument("--process-decode", action=argparse.BooleanOptionalAction, default=True,
                        help="also index with decoding in processes (the first backend)")
    args = parser.parse_args()

    # The tools run with a home of their own: clipdex's last collection, ONNX Runtime's
    # telemetry database and the like stay out of the user's home.
    home = os.path.join(args.work, "home")
    os.environ.update(HOME=home, XDG_CACHE_HOME=os.path.join(home, ".cache"))
    photos = os.path.join(args.work, f"photos-{args.images}")
    make_folder(photos, args.images)
    tools = ([rclip_tool(args.rclip, photos, args.work)] if args.rclip else []) + (
        [clip_retrieval_tool(args.clip_retrieval, photos, args.work)] if args.clip_retrieval else []) + [
        clipdex_tool(photos, args.work, args.backends.split(","), args.process_decode)]
    rows = []
    indexed = interleaved(args.index_repeats, {k: v for tool in tools for k, v in tool.index.items()},
                          {k: v for tool in tools for k, v in tool.fresh.items()})
    rows += [{**row, "images_per_s": args.images / row["seconds"]} for row in indexed]
    command, env = tools[-1].rerun  # the last index run of the first backend stays for the searches
    rows.append({"tool": "clipdex", "what": "no-change rerun", **timed(command, env=env)})
    rows += interleaved(args.repeats, {k: v for tool in tools for k, v in tool.searches.items()})
    for row in rows:
        row.pop("stdout", None)
    print(f"{args.images} JPEGs of 640x480, {ARCH} random weights, CPU flags: {' '.join(cpu_flags())}, "
          f"{os.cpu_count()} CPUs")
    auto_precision = tools[-1].note
    print(f"clipdex's backend auto: {auto_precision}")
    print_table([("tool", "<15s", "tool"), ("what", "<34s", "what"), ("seconds", "8.2f", "seconds"),
                 ("images/s", "9.1f", lambda r: r.get("images_per_s", float("nan"))),
                 ("peak RSS MB", "12.0f", "peak_rss_mb")], rows)
    by = {(r["tool"], r["what"]): r for r in rows}
    ratios = {}
    if ("rclip", "cold search (index check + query)") in by:
        ratios["cold_search_clipdex_over_rclip"] = (by[("clipdex", "cold search (onnx)")]["seconds"]
                                                    / by[("rclip", "cold search (index check + query)")]["seconds"])
    for peer, row in (("rclip", ("rclip", "index (+ query)")), ("clip_retrieval", ("clip-retrieval", "index (inference)"))):
        for backend in args.backends.split(",") if row in by else []:  # auto's ratio without a suffix
            name = f"index_rate_clipdex_over_{peer}" + ("" if backend == "auto" else f"_{backend}")
            ratios[name] = by[("clipdex", f"index ({backend})")]["images_per_s"] / by[row]["images_per_s"]
    ratios["cold_search_onnx_over_torch"] = (by[("clipdex", "cold search (onnx)")]["seconds"]
                                             / by[("clipdex", "cold search (torch)")]["seconds"])
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    write_result("peers.json", {"images": args.images, "arch": ARCH, "cpu_flags": cpu_flags(), "cpus": os.cpu_count(),
                                "auto_precision": auto_precision, "rows": rows, "ratios": ratios})


if __name__ == "__main__":
    main()
