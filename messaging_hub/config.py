"""Configuration from mappings, environment variables and TOML files.

Adapters declare their options as attrs classes; :func:`structure_options`
builds one from a mapping with cattrs, wrapping credentials in
:class:`~messaging_hub.secret.Secret` and reporting the offending key in a
:class:`~messaging_hub.errors.ConfigError`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import ssl as ssl_module
import tomllib
import types
import typing
from collections import abc
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError
from yarl import URL

from .errors import ConfigError
from .secret import Secret
from .state.base import SharedState
from .transport.auth import AuthStrategy
from .transport.http import DEFAULT_MAX_RESPONSE_BYTES, PoolLimits, Timeouts, Transport
from .transport.retry import RetryPolicy

__all__ = [
    "TransportOptions",
    "from_env",
    "from_toml",
    "resolve_env_refs",
    "structure_options",
]

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"{value!r} is not a boolean")


def _secret(value: Any, _: type) -> Secret:
    if isinstance(value, Secret):
        value = value.reveal()
    if not isinstance(value, str) or not value:
        raise ValueError("expected a non-empty string")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        # A pasted token's newline would otherwise fail every request (or
        # inject a header); the value itself is never shown.
        raise ValueError("contains a line break or other control character")
    return Secret(value)


def _str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # TOML/env users write extensions as numbers
    raise ValueError(f"expected a string, got {type(value).__name__}")


def _zone(value: Any, _: type) -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {value!r}") from exc


def _proxy_parts(proxy: Secret) -> tuple[str, tuple[str, Secret] | None]:
    """The proxy URL without credentials, and the credentials apart."""
    try:
        url = URL(proxy.reveal())
        valid = url.scheme in ("http", "https") and bool(url.host)
    except (ValueError, TypeError):
        valid = False
    if not valid or url.path not in ("", "/") or url.query_string or url.fragment:
        # The value itself may hold a password: not shown.
        raise ConfigError("proxy must be an http(s)://[user:password@]host:port URL", key="proxy")
    auth = None
    if url.user is not None:
        auth = (url.user, Secret(url.password or ""))
    return str(url.with_user(None).with_path("")), auth


def _ssl_option(value: Any, _: type) -> bool | ssl_module.SSLContext:
    if isinstance(value, ssl_module.SSLContext):
        return value
    return _bool(value, bool)


def _trace_config(value: Any, _: type) -> aiohttp.TraceConfig:
    if not isinstance(value, aiohttp.TraceConfig):
        raise ValueError(f"expected an aiohttp.TraceConfig, got {type(value).__name__}")
    return value


def _shared_state(value: Any, _: type) -> SharedState:
    if not isinstance(value, SharedState):
        raise ValueError(
            f"expected a SharedState (LocalState, RedisState), got {type(value).__name__}"
        )
    return value


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(bool, _bool)
    conv.register_structure_hook(Secret, _secret)
    conv.register_structure_hook(str, _str)
    conv.register_structure_hook(ZoneInfo, _zone)
    conv.register_structure_hook(bool | ssl_module.SSLContext, _ssl_option)
    conv.register_structure_hook(aiohttp.TraceConfig, _trace_config)
    conv.register_structure_hook(SharedState, _shared_state)
    return conv


_converter = _make_converter()


def _first_key(exc: BaseException) -> tuple[str | None, str]:
    """Dig the failing option name and reason out of a cattrs error tree."""
    if isinstance(exc, ForbiddenExtraKeysError):
        return sorted(exc.extra_fields)[0], "unknown option"
    if isinstance(exc, ConfigError):
        return exc.key, exc.message
    if isinstance(exc, ClassValidationError):
        for sub in exc.exceptions:
            note = next((n for n in getattr(sub, "__notes__", []) if hasattr(n, "name")), None)
            key, reason = _first_key(sub)
            if note is not None:
                name = str(getattr(note, "name", ""))
                if isinstance(sub, KeyError):
                    return name, "required option missing"
                return name, reason
            return key, reason
    if isinstance(exc, KeyError):
        return str(exc.args[0]) if exc.args else None, "required option missing"
    return None, str(exc) or type(exc).__name__


_CONTAINERS = (dict, list, tuple, set, frozenset, Mapping, abc.Sequence, abc.Set)


def _json_for_containers(cls: type, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with JSON text decoded where the option takes a mapping or list."""
    out = dict(options)
    if not attrs.has(cls):
        return out
    hints = typing.get_type_hints(cls)
    for key, value in options.items():
        if not isinstance(value, str) or value.lstrip()[:1] not in ("{", "["):
            continue
        kinds = [typing.get_origin(t) or t for t in _union_members(hints.get(key))]
        if not any(isinstance(k, type) and issubclass(k, _CONTAINERS) for k in kinds):
            continue
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"option {key!r}: not valid JSON ({exc.msg})", key=key) from None
    return out


def _union_members(hint: Any) -> tuple[Any, ...]:
    if hint is None:
        return ()
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def structure_options(cls: type[T], options: Mapping[str, Any], *, provider: str) -> T:
    """Build the options class ``cls`` from ``options`` or raise ConfigError."""
    if not isinstance(options, Mapping):
        raise ConfigError("options must be a mapping", provider=provider)
    try:
        return _converter.structure(_json_for_containers(cls, options), cls)
    except ConfigError as exc:
        exc.provider = exc.provider or provider
        raise
    except (ClassValidationError, ForbiddenExtraKeysError, ValueError, TypeError) as exc:
        key, reason = _first_key(exc)
        where = f"option {key!r}" if key else "options"
        if reason == "unknown option" and key is not None:
            known = [a.name for a in attrs.fields(cls)] if attrs.has(cls) else []
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            reason += f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
        raise ConfigError(f"{where}: {reason}", key=key, provider=provider) from None


def from_env(
    environ: Mapping[str, str] | None = None, *, prefix: str = "MESSAGING_HUB_"
) -> dict[str, Any]:
    """Options from environment variables: ``MESSAGING_HUB_PROVIDER``,
    ``MESSAGING_HUB_ACCESS_TOKEN``, ... become ``provider``, ``access_token``.

    Options that take a mapping or a list accept JSON text, so they can come
    from the environment too: ``MESSAGING_HUB_RATE_LIMITS='{"Medium": [40, 60]}'``.
    """
    env = os.environ if environ is None else environ
    return {
        name[len(prefix) :].lower(): value
        for name, value in env.items()
        if name.startswith(prefix) and len(name) > len(prefix)
    }


def resolve_env_refs(
    data: Any, environ: Mapping[str, str] | None = None, *, where: str = ""
) -> Any:
    """Replace every ``{env = "NAME"}`` table in ``data`` with that variable's value.

    Lets a TOML file name where a secret lives instead of holding it; a
    variable that is not set is a ConfigError naming it.
    """
    env = os.environ if environ is None else environ
    if isinstance(data, dict):
        if set(data) == {"env"} and isinstance(data["env"], str):
            name = data["env"]
            if name not in env:
                raise ConfigError(
                    f"{where or 'a value'} refers to the environment variable {name}, "
                    "which is not set",
                    key=where.rsplit(".", 1)[-1] or None,
                )
            return env[name]
        return {
            k: resolve_env_refs(v, env, where=f"{where}.{k}" if where else str(k))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [resolve_env_refs(v, env, where=where) for v in data]
    return data


def from_toml(
    path: str | os.PathLike[str], *, table: str | None = "messaging_hub"
) -> dict[str, Any]:
    """Options from a TOML file; ``table`` is a dotted table name (or None for the root).

    A value written ``{env = "NAME"}`` is read from that environment variable.
    """
    try:
        data: Any = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {os.fspath(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{os.fspath(path)!r} is not UTF-8 text, as TOML must be") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{os.fspath(path)!r} is not valid TOML: {exc}") from None
    if table:
        for part in table.split("."):
            if not isinstance(data, dict) or part not in data:
                raise ConfigError(f"{os.fspath(path)!r} has no [{table}] table", key=table)
            data = data[part]
    if not isinstance(data, dict):
        raise ConfigError(f"[{table}] in {os.fspath(path)!r} is not a table", key=table)
    resolved: dict[str, Any] = resolve_env_refs(data)
    return resolved


def _finite_positive(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (0 < value < math.inf):
        raise ConfigError(
            f"must be a positive number of seconds, got {value!r}", key=attribute.name
        )


def _at_least(bound: float) -> Callable[[Any, attrs.Attribute[Any], float], None]:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
        if not (bound <= value < math.inf):
            raise ConfigError(f"must be at least {bound}, got {value!r}", key=attribute.name)

    return check


# Field validators, not __attrs_post_init__: every adapter's options class
# defines its own __attrs_post_init__, which would silently replace these
# checks. attrs runs validators after all fields are set, so they may
# compare fields.
def _ca_bundle_alone(instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and instance.ssl is not True:
        raise ConfigError(
            "ca_bundle cannot be combined with ssl=False or an SSLContext "
            "(load the bundle into the context instead)",
            key="ca_bundle",
        )


def _proxy_shape(instance: Any, attribute: attrs.Attribute[Any], value: Secret | None) -> None:
    if value is not None:
        _proxy_parts(value)


def _trace_configs(
    instance: Any, attribute: attrs.Attribute[Any], value: tuple[aiohttp.TraceConfig, ...]
) -> None:
    if not all(isinstance(t, aiohttp.TraceConfig) for t in value):
        raise ConfigError("trace_configs must be aiohttp.TraceConfig objects", key="trace_configs")


@attrs.frozen(kw_only=True)
class TransportOptions:
    """Connection options every adapter accepts."""

    timeout: float = attrs.field(default=30.0, validator=_finite_positive)
    """Seconds one attempt may take in total."""
    connect_timeout: float = attrs.field(default=10.0, validator=_finite_positive)
    max_attempts: int = attrs.field(default=3, validator=_at_least(1))
    """Tries per request, the first included (see the transport's retry rules)."""
    retry_after_ceiling: float = attrs.field(default=60.0, validator=_at_least(0))
    """The longest ``Retry-After`` the client sleeps through; longer raises RateLimited."""
    pool_size: int = attrs.field(default=100, validator=_at_least(1))
    """Maximum open connections."""
    max_response_bytes: int = attrs.field(
        default=DEFAULT_MAX_RESPONSE_BYTES, validator=_at_least(1024)
    )
    """The largest answer read into memory (after decompression); larger -> MalformedResponse."""
    ssl: bool | ssl_module.SSLContext = True
    """``False`` skips certificate checks (testing only); an ``SSLContext`` is used as given."""
    ca_bundle: str | None = attrs.field(default=None, validator=_ca_bundle_alone)
    """Path of a PEM file of CA certificates to trust instead of the system's."""
    proxy: Secret | None = attrs.field(default=None, validator=_proxy_shape)
    """An ``http://[user:password@]host:port`` proxy for every request."""
    trust_env: bool = False
    """Honour ``HTTP(S)_PROXY``/``NO_PROXY`` (and ``.netrc``) on the library's own session."""
    trace_configs: tuple[aiohttp.TraceConfig, ...] = attrs.field(
        default=(), validator=_trace_configs
    )
    """aiohttp ``TraceConfig`` objects (OpenTelemetry's, say) for the library's own session."""
    state: SharedState | None = None
    """State shared with other clients of the same account, in this process or
    others (:class:`~messaging_hub.state.RedisState`); ``None``: the client's own."""
    idempotency_ttl: float = attrs.field(default=86_400.0, validator=_finite_positive)
    """Seconds a send's ``idempotency_key`` is remembered."""

    def account_key(self, provider: str, *identity: object) -> str:
        """A name for the provider account that ``identity`` (base URL,
        credentials) reaches: a digest, so no credential shows in a key."""
        digest = hashlib.sha256(provider.encode())
        for part in identity:
            text = part.reveal() if isinstance(part, Secret) else "" if part is None else str(part)
            digest.update(b"\x1f" + text.encode())
        return f"{provider}:{digest.hexdigest()[:32]}"

    def make_transport(
        self,
        *,
        provider: str,
        base_url: str,
        auth: AuthStrategy | None = None,
        session: aiohttp.ClientSession | None = None,
        **extra: Any,
    ) -> Transport:
        """A transport with these options' timeouts, retries and pool limits."""
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise ConfigError(
                f"session must be an aiohttp.ClientSession, got {type(session).__name__}",
                key="session",
                provider=provider,
            )
        proxy, proxy_auth = _proxy_parts(self.proxy) if self.proxy else (None, None)
        return Transport(
            provider=provider,
            base_url=base_url,
            auth=auth,
            session=session,
            timeouts=self.timeouts(),
            pool=self.pool_limits(),
            retry=self.retry_policy(),
            max_response_bytes=self.max_response_bytes,
            ssl=self.ssl_setting(provider),
            proxy=proxy,
            proxy_auth=proxy_auth,
            trust_env=self.trust_env,
            trace_configs=self.trace_configs,
            secrets=self.secrets(),
            **extra,
        )

    def secrets(self) -> list[Secret]:
        """Every credential among these options (scrubbed from provider text)."""
        return [
            value
            for value in (getattr(self, a.name) for a in attrs.fields(type(self)))
            if isinstance(value, Secret)
        ]

    def ssl_setting(self, provider: str) -> bool | ssl_module.SSLContext:
        """What the transport passes as ``ssl=``: the CA bundle loaded, or the option."""
        if self.ca_bundle is None:
            return self.ssl
        try:
            return ssl_module.create_default_context(cafile=self.ca_bundle)
        except (OSError, ssl_module.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(
                f"ca_bundle {self.ca_bundle!r} cannot be loaded: {reason}",
                key="ca_bundle",
                provider=provider,
            ) from None

    def timeouts(self) -> Timeouts:
        """The transport's timeouts."""
        return Timeouts(total=self.timeout, connect=self.connect_timeout, read=self.timeout)

    def retry_policy(self) -> RetryPolicy:
        """The transport's retry policy."""
        return RetryPolicy(
            max_attempts=self.max_attempts, retry_after_ceiling=self.retry_after_ceiling
        )

    def pool_limits(self) -> PoolLimits:
        """The transport's pool limits."""
        return PoolLimits(total=self.pool_size, per_host=self.pool_size)
