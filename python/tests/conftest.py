import os
import shutil

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a test that takes more than a few seconds")


@pytest.fixture(scope="session")
def cli():
    """The gaussmix command-line tool: $GAUSSMIX_CLI, target/release or target/debug."""
    env = os.environ.get("GAUSSMIX_CLI")
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            pytest.fail(f"GAUSSMIX_CLI={env} is not an executable file")
        return env
    # The newer of the release and debug builds (the one built from the current sources).
    built = [
        os.path.join(ROOT, "target", profile, "gaussmix") for profile in ("release", "debug")
    ]
    built = [c for c in built if os.path.isfile(c) and os.access(c, os.X_OK)]
    if built:
        return max(built, key=os.path.getmtime)
    if shutil.which("gaussmix"):
        return shutil.which("gaussmix")
    pytest.skip(
        "the gaussmix CLI binary was not found (build it with `cargo build --bin gaussmix`, "
        "or set GAUSSMIX_CLI)"
    )


@pytest.fixture(scope="session")
def faces():
    from gaussmix.datasets import olivetti_faces

    return olivetti_faces()


@pytest.fixture
def blobs():
    rng = np.random.RandomState(0)
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 2.0], [0.0, 7.0, -3.0]])
    X = np.vstack([rng.randn(150, 3) * [1.0, 0.6, 1.3] + c for c in centres])
    return X
