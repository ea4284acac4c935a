"""The model side of clipdex: pixels and words in, vectors and answers out.

Knows no database, no folders and no HTTP. Where an image becomes a vector: images/
(decoding) then encoders/ (the model's forward); where a vector becomes a search hit:
index/; where a hit gets its caption: captioning/.

- models/        spec strings -> ModelSpec -> LoadedModel (open_clip, transformers), the catalogue
- encoders/      Encoder: batching, normalisation, temperature; PyTorch and ONNX Runtime forwards
- images/        untrusted bytes -> pictures; GPU JPEG decoding and preprocessing
- index/         FAISS indexes, float16 vector rows, shards, index plans, near-duplicates
- captioning/    captioners: transformers VLMs, CoCa, clipdex's own
- ocr/           text in pictures: OCR engines (RapidOCR, Tesseract, VLMs), matching that forgives OCR
- locate/        where a phrase is: heat maps from the encoder's patch tokens; VLM grounding and detection
- regions/       boxes in pictures: the Region type, the VLMs' box formats, drawing
- training/      contrastive training and fine-tuning, captioner training
- datasets/      shapes scenes, Fashion-MNIST
- zero_shot.py   zero-shot classification by prompt ensembles (tests/unit/retrieval/test_zero_shot.py)
- cross_encoder.py  re-ranking by an image-text matching cross-encoder (tests/integration/test_reranker.py)
- atomic_io.py   crash-safe file writes (tests/unit/retrieval/test_vector_index.py)
- cpu_info.py    what this CPU is: its name and vector instruction sets (tests/unit/api/test_cpu_kernels.py)
"""
