#!/usr/bin/env python3
"""The tutorial's face generator (EX.2.1, "GMM as Generative Model: Create Non-Existent
Person Image"), its own code on gaussmix.

The tutorial fits 24 full-covariance Gaussians to the 400 Olivetti faces (64 × 64 = 4096
pixels) with scikit-learn and reports 212.9 s for the fit and 568.6 s for one new face. The
code below is the tutorial's, cell by cell; the changes are marked `# gaussmix:`:

1. `from gaussmix import GaussianMixture` instead of `from sklearn.mixture import
   GaussianMixture` — the only change to the modelling code.
2. The faces: scikit-learn's `fetch_olivetti_faces` downloads them, and this machine may have
   no network; `gaussmix.datasets.fetch_olivetti_faces` is a drop-in that returns the same
   float32 data in the same shuffled order from the copy embedded in gaussmix.
3. Plots: the tutorial's `plot_gallery` needs matplotlib (which the tutorial imports in an
   earlier cell), and its `fig.canvas.set_window_title` is gone from matplotlib >= 3.6. With
   matplotlib installed and `--plots DIR`, the galleries are written there as PNG files;
   otherwise they are skipped (they are not part of the timings).

    pip install ./python
    python python/examples/faces_tutorial.py                  # gaussmix
    python python/examples/faces_tutorial.py --sklearn        # the tutorial as written
    python python/examples/faces_tutorial.py --plots out/     # with matplotlib: PNG galleries
"""
import argparse
import os
import sys

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--sklearn", action="store_true",
                help="run the tutorial with scikit-learn's GaussianMixture (minutes)")
ap.add_argument("--plots", metavar="DIR", help="write the galleries as PNG files here (needs matplotlib)")
args = ap.parse_args()

try:  # the tutorial's plotting (an earlier notebook cell imports matplotlib)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None

# In [5]:
# Load the relevant library for this sub-section

# olivetti faces dataset
# gaussmix: the embedded copy (same data, same order) instead of the download.
from gaussmix.datasets import fetch_olivetti_faces  # was: from sklearn.datasets import fetch_olivetti_faces

# for reproducibility
from numpy.random import RandomState

# GMM model
if args.sklearn:
    from sklearn.mixture import GaussianMixture
else:
    from gaussmix import GaussianMixture  # gaussmix: was from sklearn.mixture import GaussianMixture

# for performance testing we need time
from time import time

# In [6]:
# n_row, n_col = 2, 3
n_row, n_col = 40, 10
n_train_samples = n_row * n_col
image_shape = (64, 64)
rng = RandomState(0)
dataset = fetch_olivetti_faces(shuffle=True, random_state=rng)
faces = dataset.data
n_samples, n_features = faces.shape


def centering(data):
    """
    Since most of the ML algorithms perform good for standardized dataset,
    This utility allows to center the dataset globally and locally
    """
    # global centering i.e. along columns i.e. we subtract mean of each
    # column with elements along the axis
    # in other words, we are getting mean of each samples
    data_centered = data - data.mean(axis=0)

    # local centering i.e. along row i.e. for each image, we shift it
    # with mean along the row.
    data_centered -= data_centered.mean(axis=1).reshape(n_samples, -1)

    return data_centered


#####

_gallery = [0]


def plot_gallery(title, images, wtitle="", n_col=n_col, n_row=n_row, scale=3):
    if plt is None or not args.plots:  # gaussmix: plots are optional (see the docstring)
        return
    # plt.figure(figsize=(2. * n_col, 2.26 * n_row))
    # plt.figure(figsize=(1. * n_col, 1.26 * n_row))
    fig = plt.figure(figsize=(scale * n_col, scale * n_row))
    fig.canvas.manager.set_window_title(wtitle)  # gaussmix: matplotlib >= 3.6 spelling
    plt.suptitle(title, size=16)
    for i, comp in enumerate(images):
        plt.subplot(n_row, n_col, i + 1)
        vmax = max(comp.max(), -comp.min())
        plt.imshow(comp.reshape(image_shape), cmap=plt.cm.gray,
                   interpolation='nearest',
                   vmin=-vmax, vmax=vmax)
        plt.xticks(())
        plt.yticks(())
    plt.subplots_adjust(0.01, 0.05, 0.99, 0.93, 0.04, 0.)
    # gaussmix: written to a file instead of plt.show()
    os.makedirs(args.plots, exist_ok=True)
    _gallery[0] += 1
    fig.savefig(os.path.join(args.plots, f"gallery_{_gallery[0]}.png"))
    plt.close(fig)


faces_centered = centering(faces)

#####
# Plot the input data
n_display_samples = int(n_train_samples * 0.75)
plot_gallery(title="Dataset: Centered Olivetti faces ", images=faces_centered)
#####
# plt.show()  # gaussmix: see plot_gallery

# In [7]:
# use full covariance for better model. Other good options is tied
covariance_type = "full"  # full, tied, diag, spherical

# number of gaussian components
n_gaussians = 24

# instantiate GMM model
gmm = GaussianMixture(
    n_components=n_gaussians,
    covariance_type=covariance_type,
    tol=1e-2,
    max_iter=300,
)

t0 = time()
sampled_faces_centered = faces_centered[:n_train_samples]
gmm.fit(sampled_faces_centered)
t1 = time()

print("Model Training Took ", t1 - t0, " seconds")

# In [8]:
t0 = time()

new_faces = gmm.sample(1)

t1 = time()

plot_gallery(wtitle="Generated Olivetti faces", title="", images=new_faces[0])

# plt.show()  # gaussmix: see plot_gallery

print("Model New Sample Creation Took ", t1 - t0, " seconds")

# Not in the tutorial: what was fitted.
print(f"({type(gmm).__module__}.{type(gmm).__name__}: {gmm.n_iter_} EM iterations, "
      f"converged={gmm.converged_}, lower bound {gmm.lower_bound_:.2f}"
      + (f", on {gmm.device_}" if hasattr(gmm, "device_") else "") + ")", file=sys.stderr)
