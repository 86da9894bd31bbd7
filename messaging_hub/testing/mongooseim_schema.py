"""The GraphQL schema text :class:`FakeMongooseIM` serves, and its request errors.

The fake's own SDL (below) is written from MongooseIM 6.5.0's
``priv/graphql/schemas/{global,user,admin}/stanza.gql`` and
``global/scalar_types.gql``: the ``stanza`` fields the fake serves and the
scalars they use, under root types named as the server names them
(``UserQuery``, ``AdminMutation``, ...). When the official SDL files are
beside the checkout (``shared/specs/mongooseim/graphql``), the fake
validates documents against them instead, so a document the real server
would refuse is refused here too.

Nothing here needs graphql-core: the fake imports it only to answer GraphQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

__all__ = [
    "BUNDLED_SDL",
    "OFFICIAL_SDL_FILES",
    "GraphQLError",
    "Role",
    "SdlSource",
    "official_sdl_dir",
    "schema_text",
]

Role = Literal["user", "admin"]
# "auto": the official files beside the checkout when there, else the bundled SDL.
SdlSource = Path | Literal["auto", "bundled"]

OFFICIAL_SDL_FILES = ("global_scalar_types.gql", "global_stanza.gql", "{role}_stanza.gql")

_SCALARS = """
"Date and time represented using **YYYY-MM-DDTHH:mm:ssZ** format"
scalar DateTime
"String containing the XML document"
scalar XmlElement
"Unique XMPP identifier in the form of **node@domain** or **node@domain/resource"
scalar JID
"Integer that has a value above zero"
scalar PosInt
"""

_PAYLOADS = """
"Stanza payload data"
type StanzasPayload {
  stanzas: [StanzaMap]
  limit: Int
}
"Stanza map data"
type StanzaMap {
  sender: JID
  timestamp: DateTime
  stanza_id: String
  stanza: XmlElement
}
"Send stanza payload"
type SendStanzaPayload {
  id: ID
}
"""

_USER = """
type StanzaUserQuery {
  getLastMessages(with: JID, limit: PosInt = 50, before: DateTime): StanzasPayload
}
type StanzaUserMutation {
  sendMessage(from: JID, to: JID!, body: String!): SendStanzaPayload
  sendMessageHeadLine(from: JID, to: JID!, subject: String, body: String): SendStanzaPayload
}
type StanzaUserSubscription {
  subscribeForMessages: StanzaMap
}
"""

_ADMIN = """
type StanzaAdminQuery {
  getLastMessages(caller: JID!, with: JID, limit: PosInt = 50, before: DateTime): StanzasPayload
}
type StanzaAdminMutation {
  sendMessage(from: JID!, to: JID!, body: String!): SendStanzaPayload
  sendMessageHeadLine(from: JID!, to: JID!, subject: String, body: String): SendStanzaPayload
}
type StanzaAdminSubscription {
  subscribeForMessages(caller: JID!): StanzaMap
}
"""

# The official files use MongooseIM's own directives (declared in other files
# of its schema); declaring them lets the files build with SDL validation on.
# ``@use`` takes ``args`` in the stanza files and ``arg`` elsewhere: both are here.
_DIRECTIVES = """
directive @protected(type: ProtectedType = DEFAULT, args: [String!] = [])
  on FIELD_DEFINITION | OBJECT | INTERFACE
enum ProtectedType { DEFAULT DOMAIN GLOBAL }
directive @use(
  modules: [String!] = [], services: [String!] = [], internal_databases: [String!] = [],
  arg: String, args: [String!] = []
) on FIELD_DEFINITION | OBJECT
directive @spectaql(options: [SpectaQLOption]) on OBJECT | FIELD_DEFINITION | SCALAR
input SpectaQLOption { key: String! value: String! }
"""


def _roots(role: Role) -> str:
    """The root types: one ``stanza`` category each, as in MongooseIM's schemas."""
    r, s = role.title(), f"Stanza{role.title()}"
    return f"""
schema {{ query: {r}Query mutation: {r}Mutation subscription: {r}Subscription }}
type {r}Query {{ stanza: {s}Query }}
type {r}Mutation {{ stanza: {s}Mutation }}
type {r}Subscription {{ stanza: {s}Subscription }}
"""


BUNDLED_SDL: dict[Role, str] = {
    "user": _SCALARS + _PAYLOADS + _USER + _roots("user"),
    "admin": _SCALARS + _PAYLOADS + _ADMIN + _roots("admin"),
}


def official_sdl_dir() -> Path | None:
    """``shared/specs/mongooseim/graphql`` beside this checkout, if it is there."""
    # messaging_hub/testing/<this file> -> the checkout -> its parent, as the tests look.
    folder = Path(__file__).resolve().parents[3] / "shared/specs/mongooseim/graphql"
    complete = all(
        (folder / name.format(role=role)).is_file()
        for name in OFFICIAL_SDL_FILES
        for role in ("user", "admin")
    )
    return folder if complete else None


def schema_text(role: Role, source: SdlSource = "auto") -> tuple[str, bool]:
    """The SDL of ``role``'s schema and whether it is MongooseIM's own files.

    ``source`` is ``"bundled"`` (the fake's SDL), a folder holding MongooseIM's
    ``global_scalar_types.gql``, ``global_stanza.gql`` and ``<role>_stanza.gql``,
    or ``"auto"`` (that folder in ``shared/specs`` when present, else bundled).
    """
    folder = official_sdl_dir() if source == "auto" else source
    if folder is None or folder == "bundled":
        return BUNDLED_SDL[role], False
    assert isinstance(folder, Path)
    parts = [(folder / name.format(role=role)).read_text() for name in OFFICIAL_SDL_FILES]
    return "\n".join([_DIRECTIVES, *parts, _roots(role)]), True


class GraphQLError(Exception):
    """A request-level GraphQL error: HTTP ``status`` and one error object.

    The object is shaped as MongooseIM's ``mongoose_graphql_errors`` shapes it:
    ``{message, extensions: {code}, path?}``.
    """

    def __init__(
        self, message: str, code: str, path: list[Any] | None = None, status: int = 400
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"message": message, "extensions": {"code": code}}
        if path is not None:
            self.error["path"] = path
