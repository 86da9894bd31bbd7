"""MongooseIM one-to-one chat: adapter, native clients (admin REST, client REST, GraphQL)."""

from .adapter import DEFAULT_BASE_URLS, MongooseIMAdapter, MongooseIMOptions
from .admin_rest import AdminRestAPI
from .client_rest import ClientRestAPI
from .graphql import GraphQLAPI
from .jid import Jid, parse_jid

__all__ = [
    "DEFAULT_BASE_URLS",
    "AdminRestAPI",
    "ClientRestAPI",
    "GraphQLAPI",
    "Jid",
    "MongooseIMAdapter",
    "MongooseIMOptions",
    "parse_jid",
]
