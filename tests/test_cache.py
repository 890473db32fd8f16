"""The Redis cache backend (clinic.cache): Django's, keeping one redis-py client per pool."""

from __future__ import annotations

import threading

from django.core.cache import cache, caches

from clinic.cache import RedisCache


def test_the_configured_cache_is_redis_and_reuses_its_client():
    assert isinstance(caches["default"], RedisCache)
    backend = cache._cache
    assert backend.get_client(write=True) is backend.get_client(write=True)
    assert backend.get_client(write=False) is backend.get_client(write=False)


def test_cache_calls_work_through_the_shared_client():
    cache.set("probe", {"count": 1}, timeout=30)
    assert cache.get("probe") == {"count": 1}
    assert cache.add("probe", "other") is False
    cache.add("counter", 0, timeout=30)
    assert cache.incr("counter") == 1
    cache.delete("probe")
    assert cache.get("probe") is None


def test_threads_share_one_client_safely():
    # caches[...] is per thread; each thread's backend reuses its own client across calls.
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            own = caches["default"]
            for step in range(50):
                own.set(f"thread-{index}", step, timeout=30)
                assert own.get(f"thread-{index}") == step
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
