"""Optimizers and learning-rate schedules, as torch.optim: SGD, Adam, AdamW,
RMSprop, Adagrad over parameter groups; gpugrad.optim.lr_scheduler."""
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD
from . import lr_scheduler  # noqa: E402

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
