"""gpugrad.nn: modules, parameters, layers and losses, as torch.nn; with
gpugrad.nn.functional (F), gpugrad.nn.init and gpugrad.nn.utils."""
from . import functional, init, utils  # noqa: F401
from .containers import ModuleDict, ModuleList, Sequential
from .layers import (Dropout, Embedding, Flatten, Identity, LayerNorm, LeakyReLU, Linear,
                     LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh)
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import Module
from .parameter import Parameter

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity",
           "Linear", "Flatten", "Dropout", "LayerNorm", "Embedding", "ReLU", "LeakyReLU",
           "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax", "CrossEntropyLoss",
           "MSELoss", "BCELoss", "BCEWithLogitsLoss", "functional", "init", "utils"]
