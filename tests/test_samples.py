"""The sample host runs code as a fresh interpreter would: own folder, exit status, output, time limit."""
import pytest

from fmlab import samples


@pytest.fixture(scope="module")
def host():
    with samples.SampleHost() as h:
        yield h


def test_output_and_success(host):
    done = host.run("import torch\nprint(torch.ones(2, 3).sum().item())\n")
    assert done.returncode == 0 and done.stdout.strip() == "6.0"


def test_exception_is_a_failure_with_its_traceback(host):
    done = host.run("raise ValueError('broken sample')\n")
    assert done.returncode == 1 and "ValueError: broken sample" in done.stderr


def test_sys_exit_status_passes_through(host):
    assert host.run("import sys\nsys.exit(3)\n").returncode == 3
    assert host.run("import sys\nsys.exit('message')\n").returncode == 1


def test_runs_as_main_in_an_empty_folder_of_its_own(host):
    done = host.run("import os\nprint(__name__, sorted(os.listdir('.')))\n")
    assert done.stdout.strip() == "__main__ ['sample.py']"


def test_a_sample_cannot_change_the_next_one(host):
    host.run("import torch\ntorch.manual_seed(0)\ntorch.set_default_dtype(torch.float64)\n")
    assert host.run("import torch\nprint(torch.get_default_dtype())\n").stdout.strip() == "torch.float32"


def test_a_hung_sample_is_killed_at_its_time_limit(host):
    done = host.run("import time\ntime.sleep(30)\n", timeout=0.5)
    assert done.returncode == -9 and done.seconds < 5
    assert host.run("print('still serving')\n").stdout.strip() == "still serving"


def test_the_host_has_no_proxy_and_one_thread(host):
    done = host.run("import os\nprint(sorted(k for k in os.environ if 'proxy' in k.lower()), os.environ['OMP_NUM_THREADS'])\n")
    assert done.stdout.strip() == "[] 1"


def test_cold_run_agrees_with_the_host(host):
    code = "import numpy as np\nprint(np.arange(4).sum())\n"
    assert samples.cold_run(code).stdout == host.run(code).stdout == "6\n"
