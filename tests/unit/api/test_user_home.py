"""What clipdex's dependencies would leave in the user's home, kept out."""

import os
import subprocess
import sys


def test_onnx_runtime_leaves_nothing_in_the_users_home(tmp_path):
    """ONNX Runtime 1.32 writes ~/.cache/Microsoft/DeveloperTools/.onnxruntime/deviceid (and a
    database) on its first session unless telemetry is off; clipdex turns it off."""
    script = ("import api, onnx, onnxruntime as ort\n"
              "from onnx import helper, TensorProto as T\n"
              "x = helper.make_tensor_value_info('x', T.FLOAT, [1])\n"
              "y = helper.make_tensor_value_info('y', T.FLOAT, [1])\n"
              "graph = helper.make_graph([helper.make_node('Identity', ['x'], ['y'])], 'g', [x], [y])\n"
              "model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])\n"
              "ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])\n")
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "ORT_DISABLE_TELEMETRY")}
    subprocess.run([sys.executable, "-c", script], env={**env, "HOME": str(tmp_path)}, check=True, timeout=120)
    assert not (tmp_path / ".cache" / "Microsoft").exists()
