"""Training: dual encoders (from scratch or fine-tuned) and clipdex's own captioner.

Modules (test file in brackets):

- contrastive.py  train: symmetric InfoNCE, AdamW, warm-up + cosine, checkpoints, resume (tests/integration/test_training.py)
- finetune.py     what fine-tuning trains: full, proj, last, lora (tests/integration/test_training.py)
- lora.py         low-rank adapters on the MLP layers, merged when saved (tests/integration/test_training.py)
- model_dir.py    the model folder a run writes and resumes from (tests/unit/retrieval/test_onnx_backend.py)
- evaluation.py   recall@k both ways, zero-shot accuracy (tests/integration/test_training.py)
- schedule.py     warm-up then cosine, fitted to a time budget (tests/integration/test_training.py)
- optimiser.py    AdamW, fused: the same step on every x86-64 CPU (tests/integration/test_training_bits_every_vendor.py)
- captioner.py    train_captioner: the word decoder over a frozen dual encoder (tests/integration/test_own_captioner.py)
- errors.py       TrainingError
"""

from retrieval.training.captioner import CaptionTrainConfig, CaptionTrainingError, train_captioner
from retrieval.training.contrastive import TrainConfig, TrainResult, contrastive_loss, train
from retrieval.training.errors import TrainingError
from retrieval.training.evaluation import EvalData, evaluate
from retrieval.training.model_dir import CONFIG_FILE, STATE_FILE, WEIGHTS_FILE, save_model_dir

__all__ = ["CONFIG_FILE", "STATE_FILE", "WEIGHTS_FILE", "CaptionTrainConfig", "CaptionTrainingError", "EvalData",
           "TrainConfig", "TrainResult", "TrainingError", "contrastive_loss", "evaluate", "save_model_dir",
           "train", "train_captioner"]
