"""The one typed way handlers, hooks and MCP tools reach the running service."""

from __future__ import annotations

from litestar.connection import ASGIConnection

from contextsvc.activation import EventHub
from contextsvc.context import ContextReads
from contextsvc.errors import Unavailable
from contextsvc.service import FollowerService, Service

STANDBY = "standby: another process holds this database's writer lease; this one takes over when it is gone"


def service_of(connection: ASGIConnection) -> Service:
    """The Service the app's lifespan opened (api/app.py); Unavailable (503, Retry-After)
    while a standby server waits for the writer lease."""
    try:
        service: Service = connection.app.state.service
    except AttributeError:
        raise Unavailable(STANDBY, details={"retry_after_s": 1}) from None
    return service


def readers_of(connection: ASGIConnection) -> Service | FollowerService:
    """What serves a context read here: the Service on the leader (or a lone server), on a
    follower its own replica (api/forward.py keeps only context reads there)."""
    service = getattr(connection.app.state, "service", None)
    if service is not None:
        return service
    follower = getattr(connection.app.state, "follower", None)
    if follower is not None:
        return follower
    return service_of(connection)


async def person_reads(readers: Service | FollowerService) -> ContextReads:
    """The reads to serve one read of a person with (daily series, identity), once the
    request is known to be valid: the service's own on the leader; on a follower those over
    its caches when they hold every acknowledged write, else straight from the database."""
    if isinstance(readers, FollowerService):
        return await readers.reads.current()
    return readers.reads


def events_of(connection: ASGIConnection) -> EventHub:
    """Where this worker's event stream comes from: with several workers and Redis, the
    hub the leader's events reach over Redis (on every worker, the leader too, so a stream
    outlives a change of leader: the leader's service is given that hub); otherwise the
    service's own."""
    follower = getattr(connection.app.state, "follower", None)
    if follower is not None:
        return follower.replica.events
    return service_of(connection).branches.hub
