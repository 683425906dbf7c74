"""The pure SLERP function: endpoints, geometry, degenerate inputs, and mergekit's own kernel."""
import math

import pytest
import torch

from definemed.merging.slerp import CHUNK_ELEMENTS, slerp


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_endpoints_exact(dtype):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(37, 11, generator=g).to(dtype), torch.randn(37, 11, generator=g).to(dtype)
    assert torch.equal(slerp(0.0, a, b), a)
    assert torch.equal(slerp(1.0, a, b), b)
    assert slerp(0.5, a, b).dtype == dtype and slerp(0.5, a, b).shape == a.shape


def test_orthogonal_unit_vectors_follow_the_great_circle():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    for t in (0.25, 0.5, 0.8):
        r = slerp(t, a, b)
        assert torch.allclose(r, torch.tensor([math.cos(t * math.pi / 2), math.sin(t * math.pi / 2)]), atol=1e-6)
        assert abs(float(r.norm()) - 1.0) < 1e-6  # on the sphere, not the chord


def test_norms_interpolate_with_the_raw_tensors():
    # mergekit does not renormalise: coefficients multiply the raw tensors
    a, b = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 4.0])
    r = slerp(0.5, a, b)
    assert torch.allclose(r, torch.tensor([2.0, 4.0]) * math.sin(math.pi / 4) / 1.0, atol=1e-6)


def test_colinear_falls_back_to_linear():
    a = torch.randn(100, generator=torch.Generator().manual_seed(1))
    b = 3 * a
    assert torch.allclose(slerp(0.25, a, b), 0.75 * a + 0.25 * b, atol=1e-6)
    assert torch.equal(slerp(0.25, a, a), a)


def test_antipodal_falls_back_to_linear():
    a = torch.randn(100, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(slerp(0.5, a, -a), torch.zeros(100), atol=1e-7)
    assert torch.allclose(slerp(0.25, a, -a), 0.5 * a, atol=1e-6)


def test_zero_and_empty_tensors_are_finite():
    z = torch.zeros(10)
    a = torch.ones(10)
    assert torch.isfinite(slerp(0.5, z, a)).all()
    assert slerp(0.5, torch.empty(0), torch.empty(0)).numel() == 0


def test_mixed_dtypes_promote_like_mergekit():
    a, b = torch.randn(8, 8).to(torch.bfloat16), torch.randn(8, 8)
    assert slerp(0.3, a, b).dtype == torch.float32


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("numel", [1000, 2 * CHUNK_ELEMENTS + 17])
def test_bitwise_equal_to_mergekit_kernel(dtype, numel):
    from mergekit.merge_methods.slerp import slerp as mk_slerp

    g = torch.Generator().manual_seed(numel)
    a = torch.randn(numel, generator=g)
    b = 0.8 * a + 0.6 * torch.randn(numel, generator=g)
    a, b = a.to(dtype), b.to(dtype)
    for t in (0.3, 0.9):
        ref = mk_slerp(torch.tensor([t]), a.unsqueeze(0), b.unsqueeze(0))[0]
        assert torch.equal(slerp(t, a, b), ref)
