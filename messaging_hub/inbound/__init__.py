"""Inbound messages: ``listen()`` (push where offered, polling otherwise),
the older polling ``watch()``, and webhook receivers for web apps."""

from . import webhooks
from .listen import listen
from .polling import HistoryPollingSource, watch
from .source import Delivery, InboundSource

__all__ = ["Delivery", "HistoryPollingSource", "InboundSource", "listen", "watch", "webhooks"]
