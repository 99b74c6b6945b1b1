"""parallel: two gloo processes (DDP, and all_reduce by hand) end with the weights one process gets from
fmlab.fit on the whole batch; the matmul benchmark counts 2n³ FLOPs."""
import dataclasses

import pytest
import torch

from fmlab import data, parallel
from fmlab.fit import fit
from fmlab.nets import init_weights


@pytest.fixture(scope="module")
def reference():
    split = data.digits(seed=0)
    model = init_weights(parallel.mlp(64, 32, 10), 0)
    job = parallel.Job(split.X_train[:512], split.y_train[:512], model.state_dict(), hidden=32, lr=0.5,
                       batch_size=64, epochs=2, seed=3, by_hand=False)
    single = parallel.build(job)
    trained = fit(single, torch.optim.SGD(single.parameters(), lr=job.lr), (job.X, job.y), epochs=job.epochs,
                  batch_size=job.batch_size, seed=job.seed, device=torch.device("cpu"))
    return job, single.state_dict(), trained.history["loss"]


@pytest.mark.parametrize("by_hand", [False, True], ids=["ddp", "all-reduce-by-hand"])
def test_two_processes_train_what_one_process_trains(reference, by_hand):
    job, weights, losses = reference
    out = parallel.data_parallel(dataclasses.replace(job, by_hand=by_hand), world=2)
    assert len(out["losses"]) == len(losses) == 16  # 512 / 64 steps per epoch, 2 epochs
    assert max(abs(a - b) for a, b in zip(out["losses"], losses)) < 1e-5
    assert parallel.max_param_diff(weights, out["state"]) < 1e-6
    assert parallel.max_param_diff(weights, job.state) > 1e-2  # and training really moved the weights


def test_the_batches_are_fits_order():
    job = parallel.Job(torch.zeros(10, 2), torch.zeros(10, dtype=torch.long), {}, 1, 0.1, batch_size=4, epochs=2,
                       seed=5, by_hand=False)
    g = torch.Generator().manual_seed(5)
    expected = [torch.randperm(10, generator=g) for _ in range(2)]
    got = parallel.batches(job)
    assert [len(b) for b in got] == [4, 4, 2, 4, 4, 2]  # a last, shorter batch each epoch, as in fit
    assert torch.equal(torch.cat(got[:3]), expected[0]) and torch.equal(torch.cat(got[3:]), expected[1])


def test_a_failing_rank_is_reported_not_hung():
    job = parallel.Job(torch.zeros(8, 2), torch.zeros(8, dtype=torch.long), {"bad": torch.zeros(1)}, 1, 0.1, 4, 1, 0,
                       False)
    with pytest.raises(RuntimeError, match="state_dict|Missing key|Unexpected key"):
        parallel.data_parallel(job, world=2, timeout=60)


def test_matmul_throughput_is_positive_and_threads_are_restored():
    before = torch.get_num_threads()
    assert parallel.matmul_gflops(64, threads=1, repeats=3) > 0
    assert torch.get_num_threads() == before
