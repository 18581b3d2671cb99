"""nn.utils.weight_norm / spectral_norm (the hook-based forms) against PyTorch's: the same parameter
and buffer names, the same outputs and gradients from copied state, checkpoints that load both
ways, and the parametrization form loading the hook form's keys."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import neurarust as nr
from neurarust import nn


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a.detach().tolist()), b.detach().numpy(), rtol=tol, atol=tol)


def twin(make_nr, make_torch):
    ours, theirs = make_nr(), make_torch()
    ours.load_state_dict({k: v.detach().clone() for k, v in theirs.state_dict().items()})
    return ours, theirs


def quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return fn(*args, **kwargs)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_matches_torch(dim):
    torch.manual_seed(0)
    ours, theirs = twin(lambda: quietly(nn.utils.weight_norm, nn.Conv1d(2, 3, 2), dim=dim),
                        lambda: quietly(torch.nn.utils.weight_norm, torch.nn.Conv1d(2, 3, 2), dim=dim))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight_g", "weight_v"]
    x = np.random.default_rng(0).standard_normal((2, 2, 5)).astype(np.float32)
    y, ty = ours(nr.tensor(x)), theirs(torch.tensor(x))
    close(y, ty)
    (y ** 2).sum().backward()
    (ty ** 2).sum().backward()
    close(ours.weight_g.grad, theirs.weight_g.grad)
    close(ours.weight_v.grad, theirs.weight_v.grad)


def test_weight_norm_warns_refuses_twice_and_removes():
    with pytest.warns(FutureWarning, match="deprecated"):
        lin = nn.utils.weight_norm(nn.Linear(3, 2))
    with pytest.raises(ValueError, match="two weight_norm hooks"):
        quietly(nn.utils.weight_norm, lin)
    before = lin(nr.ones(1, 3)).tolist()
    nn.utils.remove_weight_norm(lin)
    assert list(lin.state_dict()) == ["bias", "weight"] and isinstance(lin.weight, nn.Parameter)
    assert lin(nr.ones(1, 3)).tolist() == before
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        nn.utils.remove_weight_norm(lin)


def test_parametrized_weight_norm_loads_a_hook_checkpoint():
    theirs = quietly(torch.nn.utils.weight_norm, torch.nn.Linear(3, 2))
    ours = nn.utils.parametrizations.weight_norm(nn.Linear(3, 2))
    ours.load_state_dict({k: v.detach().clone() for k, v in theirs.state_dict().items()})
    x = np.ones((1, 3), np.float32)
    close(ours(nr.tensor(x)), theirs(torch.tensor(x)))


def test_spectral_norm_matches_torch_in_training_and_eval():
    torch.manual_seed(0)
    ours, theirs = twin(lambda: nn.utils.spectral_norm(nn.Linear(4, 3)),
                        lambda: torch.nn.utils.spectral_norm(torch.nn.Linear(4, 3)))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    for step in range(3):                        # each training call advances u and v in place
        y, ty = ours(nr.tensor(x)), theirs(torch.tensor(x))
        close(y, ty)
        close(ours.weight_u, theirs.weight_u)
    (y ** 2).sum().backward()
    (ty ** 2).sum().backward()
    close(ours.weight_orig.grad, theirs.weight_orig.grad, 1e-4)
    ours.eval(), theirs.eval()
    u = ours.weight_u.tolist()
    close(ours(nr.tensor(x)), theirs(torch.tensor(x)))
    assert ours.weight_u.tolist() == u            # eval mode: no power iteration


def test_spectral_norm_of_a_transposed_convolution_uses_dim_1():
    conv = nn.utils.spectral_norm(nn.ConvTranspose2d(2, 3, 2))     # weight (in, out, kh, kw)
    assert tuple(conv.weight_u.shape) == (3,) and tuple(conv.weight_v.shape) == (8,)


def test_spectral_norm_backward_through_two_forwards():
    d = nn.utils.spectral_norm(nn.Linear(3, 1))
    loss = d(nr.ones(2, 3)).sum() - d(nr.zeros(2, 3)).sum()   # a GAN discriminator's two calls
    loss.backward()
    assert d.weight_orig.grad is not None


def test_remove_spectral_norm_keeps_the_normalised_weight():
    lin = nn.utils.spectral_norm(nn.Linear(4, 3))
    lin.eval()
    y = lin(nr.ones(1, 4)).tolist()
    nn.utils.remove_spectral_norm(lin)
    assert list(lin.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(lin(nr.ones(1, 4)).tolist(), y, rtol=1e-6)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        nn.utils.remove_spectral_norm(lin)
    with pytest.raises(ValueError, match="n_power_iterations"):
        nn.utils.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)

