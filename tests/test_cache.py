"""The profile cache: bounded, versioned, decoded once."""

from contextsvc.pipeline.cache import ProfileCache
from contextsvc.profile.state import build, encode_state
from tests.helpers import FACT_T0 as T0
from tests.helpers import fact

ONE = encode_state(build([fact("a", T0, "outbound", "no_answer")]))
TWO = encode_state(build([fact("a", T0, "outbound", "no_answer"), fact("b", T0 + 1, "outbound", "interested")]))


def test_least_recently_used_entries_go_first_when_full():
    cache = ProfileCache(max_entries=2)
    cache.put("p1", 1, ONE)
    cache.put("p2", 1, ONE)
    cache.get("p1")  # p1 is now the most recently used
    cache.put("p3", 1, ONE)
    assert len(cache) == 2
    assert cache.get("p2") is None and cache.get("p1") is not None and cache.get("p3") is not None


def test_an_older_version_never_replaces_a_newer_one():
    cache = ProfileCache(10)
    cache.put("p1", 2, TWO)
    cache.put("p1", 1, ONE)  # a slow cold read arriving after the writer published v2
    version, state = cache.get("p1")
    assert version == 2 and state.calls == 2


def test_invalidation_and_decoding_once():
    cache = ProfileCache(10)
    cache.put("p1", 1, TWO)
    first = cache.get("p1")[1]
    assert cache.get("p1")[1] is first
    cache.invalidate("p1")
    assert cache.get("p1") is None


def test_a_cold_read_that_raced_a_publication_is_not_cached():
    cache = ProfileCache(10)
    generation = cache.generation  # a cold read starts and reads v1 from the store...
    cache.publish({"p1": (2, TWO)}, set())  # ...the writer commits v2 meanwhile...
    cache.invalidate("p1")  # ...and v2 is evicted before the cold read finishes
    cache.fill("p1", 1, ONE, generation)
    assert cache.get("p1") is None
