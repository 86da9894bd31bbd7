"""messaging-hub: one asyncio client for business messaging providers.

>>> import messaging_hub as mh
>>> client = mh.connect("netsapiens", base_url=..., domain=..., user=..., access_token=...)
>>> async with client:
...     receipt = await client.send(mh.Outgoing(to=["1004"], text="hello"))
"""

from .adapter import Adapter, Capability
from .config import from_env, from_toml
from .connect import connect
from .errors import (
    AuthenticationError,
    BadRequest,
    ClientClosed,
    ConfigError,
    Conflict,
    InvalidRequest,
    MalformedResponse,
    MessagingError,
    NotFound,
    PagingStalled,
    PermissionDenied,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    SendInDoubt,
    StateUnavailable,
    UnsupportedOperation,
)
from .hub import Hub
from .inbound import listen, watch, webhooks
from .models import (
    Address,
    AddressKind,
    Attachment,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    Outgoing,
    Receipt,
    Session,
)
from .registry import available_providers
from .secret import Secret
from .state import LocalState, RedisState, SharedState

__version__ = "0.1.0"

__all__ = [
    "Adapter",
    "Address",
    "AddressKind",
    "Attachment",
    "AuthenticationError",
    "BadRequest",
    "Capability",
    "ClientClosed",
    "ConfigError",
    "Conflict",
    "Direction",
    "Hub",
    "InvalidRequest",
    "LocalState",
    "MalformedResponse",
    "Message",
    "MessageKind",
    "MessageStatus",
    "MessagingError",
    "NotFound",
    "Outgoing",
    "PagingStalled",
    "PermissionDenied",
    "ProviderError",
    "ProviderUnavailable",
    "RateLimited",
    "Receipt",
    "RedisState",
    "Secret",
    "SendInDoubt",
    "Session",
    "SharedState",
    "StateUnavailable",
    "UnsupportedOperation",
    "__version__",
    "available_providers",
    "connect",
    "from_env",
    "from_toml",
    "listen",
    "watch",
    "webhooks",
]
