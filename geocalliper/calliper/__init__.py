"""CaLLiPer: the estimator face, its torch module, dataset and training loop."""

from .estimator import CaLLiPer
from .module import CaLLiPerModule, contrastive_loss

__all__ = ["CaLLiPer", "CaLLiPerModule", "contrastive_loss"]
