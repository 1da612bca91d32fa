"""Trials spread over GPUs: which GPUs are visible, and least-loaded assignment."""

import threading

import pytest

from nncaption.search.gpu_slots import GpuSlots, spread_gpus, visible_gpus


@pytest.mark.parametrize(("environ", "count", "expected"), [
    ({}, 3, ["0", "1", "2"]),
    ({}, 0, []),
    ({"CUDA_VISIBLE_DEVICES": "2,3"}, 2, ["2", "3"]),
    ({"CUDA_VISIBLE_DEVICES": " 5 , 1 "}, 2, ["5", "1"]),
    ({"CUDA_VISIBLE_DEVICES": "1,-1,2"}, 1, ["1"]),
    ({"CUDA_VISIBLE_DEVICES": ""}, 0, []),
    ({"CUDA_VISIBLE_DEVICES": "GPU-8a1b,GPU-77ff"}, 2, ["GPU-8a1b", "GPU-77ff"]),
    ({"CUDA_VISIBLE_DEVICES": "0,1,2,3"}, 2, ["0", "1"]),
])
def test_visible_gpus_cases(environ, count, expected):
    assert visible_gpus(count, environ) == expected


@pytest.mark.parametrize(("device", "expected"), [
    ("auto", ["0", "1"]),
    ("cuda", ["0", "1"]),
    ("cuda:1", []),
    ("cpu", []),
])
def test_spread_only_unpinned_cuda(device, expected):
    assert spread_gpus(device, lambda: 2, {}) == expected


def test_acquire_picks_least_loaded():
    slots = GpuSlots(["4", "7"])

    first, second, third = slots.acquire(), slots.acquire(), slots.acquire()
    assert (first, second, third) == ("4", "7", "4")
    slots.release("4")
    slots.release("4")
    assert slots.acquire() == "4"
    assert slots.running() == {"4": 1, "7": 1}


def test_no_gpus_gives_none():
    slots = GpuSlots([])

    assert not slots
    assert slots.acquire() is None
    slots.release(None)


def test_release_unknown_gpu_raises():
    slots = GpuSlots(["0"])

    with pytest.raises(ValueError, match="released more often"):
        slots.release("0")


def test_threads_balance_and_return_all():
    slots = GpuSlots(["0", "1", "2"])
    peak: list[dict[str, int]] = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        gpu = slots.acquire()
        barrier.wait()
        peak.append(slots.running())
        barrier.wait()
        slots.release(gpu)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(snapshot == {"0": 2, "1": 2, "2": 2} for snapshot in peak)
    assert slots.running() == {"0": 0, "1": 0, "2": 0}
