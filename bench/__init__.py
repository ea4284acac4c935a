"""clipdex benchmarks. Run one from the repository root as ``python -m bench.NAME [--help]``;
each prints a table and writes JSON to bench/results/ (bench/measured/ keeps the runs
the issues quote).

  ann             approximate indexes against exact search: recall@10, latency, memory, build time
  api             HTTP text search: queries/s and latency with 1 and 8 clients on loopback
  caption         quality of clipdex's own captioner on synthetic shapes, trained on a CPU budget
  cluster         `clipdex index` in one process against `--ray`, and a 100M-image estimate
  cpu_ingest      CPU ingest by backend: PyTorch, ONNX Runtime fp32 and int8
  fashion         zero-shot Fashion-MNIST after contrastive training on its train split
  finetune        fine-tuning on a few pairs of new vocabulary without forgetting the old
  gpu_ingest      GPU ingest images/s against the model-only ceiling (needs CUDA)
  gpu_search      exact search on the GPU against FAISS on the CPU: latency, queries/s, recall
  gpu_stages      each stage of GPU ingest timed alone (needs CUDA)
  hybrid          text->image recall of image vectors alone against image + caption
  ingest          `clipdex index` throughput against the bare model forward; no-change re-index
  int8_agreement  how much int8 quantization changes a trained model's search results
  locate          does the heat map point at the object a query names; its cost beside a search
  ocr             text in pictures: recall per OCR engine and query kind, reading cost, query latency
  models          throughput of each dual-encoder backend, tiny and base sizes
  pinned_bits     whether this machine trains the pinned demo's bits: a hash of the weights after N steps
  quality         retrieval quality of a model clipdex trains itself on synthetic shapes
  session_start   opening the text tower from its export against from its saved optimised graph

Shared by them, not benchmarks: common (folders, results JSON, tables, the shapes model), photos
(photo-like JPEG folders), synthetic_vectors (unit vectors for the index benchmarks).
"""
