import pytest

from retrieval.index.plan import IndexConfig, lists_for, outgrown, plan_for


def test_type_is_chosen_by_collection_size_and_memory_budget():
    assert plan_for(50_000, 512).kind == "flat"
    middle = plan_for(200_000, 512)
    assert middle.kind == "ivf" and middle.factory(512) == f"IVF{middle.nlist},Flat"
    assert plan_for(10_000_000, 512).kind == "ivfpq"
    assert plan_for(1_000_000, 512).kind == "ivfpq"  # IVF-Flat would be too slow
    assert plan_for(200_000, 512, memory_mb=100).kind == "ivfpq"  # full vectors would not fit


def test_a_type_can_be_forced_and_unknown_types_are_refused():
    assert plan_for(5000, 512, "ivfpq").kind == "ivfpq"
    assert plan_for(10, 512, "ivfpq").kind == "flat"  # too few vectors to train codes yet
    assert plan_for(10, 512, "ivf").kind == "ivf"
    assert plan_for(10_000_000, 512, "flat").kind == "flat"
    with pytest.raises(ValueError, match="auto, flat, ivf, ivfpq"):
        plan_for(10, 512, "hnsw")
    with pytest.raises(ValueError, match="shards must be at least 1"):
        IndexConfig(shards=0)


def test_lists_grow_with_the_collection_and_stay_trainable():
    sizes = [100, 10_000, 1_000_000, 10_000_000]
    lists = [lists_for(n) for n in sizes]
    assert lists == sorted(lists) and lists[-1] >= 8192
    assert all(n >= 39 * nlist or nlist == 1 for n, nlist in zip(sizes, lists))


def test_an_index_is_outgrown_by_type_or_by_lists_far_from_the_plan():
    plan = plan_for(5_000_000, 512, "ivf")
    assert not outgrown("ivf", plan.nlist, plan)
    assert outgrown("ivf", plan.nlist // 8, plan)
    assert outgrown("flat", 0, plan)
    assert not outgrown("flat", 0, plan_for(1000, 512))
