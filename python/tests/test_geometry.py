"""anodiff.fractal and anodiff.landscape against exact dimensions and closed forms."""

import numpy as np
import pytest
from anodiff import fractal, landscape


def sierpinski(k):
    """The Sierpinski carpet at level k (dimension ln 8 / ln 3)."""
    m = np.ones((1, 1), dtype=bool)
    for _ in range(k):
        z = np.zeros_like(m)
        m = np.block([[m, m, m], [m, z, m], [m, m, m]])
    return m


def test_box_count_image_and_points():
    # Triadic boxes on the 243 x 243 carpet: N(3^j) = 8^(5 - j) exactly.
    r = fractal.box_count(sierpinski(5), ratio=3.0)
    np.testing.assert_allclose(r["dimension"], np.log(8) / np.log(3), rtol=1e-9)
    pts = np.random.default_rng(0).uniform(
        size=(20000, 2)
    )  # a filled square: dimension 2
    assert abs(fractal.box_count(pts)["dimension"] - 2.0) < 0.1
    with pytest.raises(ValueError):
        fractal.box_count(np.zeros(5))


def test_surface_and_level_set_dimension_of_fbm():
    z = landscape.fbm(257, hurst=0.3, seed=1)
    assert z.shape == (257, 257)
    d = fractal.surface_dimension(z)
    assert abs(d["dimension"] - 2.7) < 0.1  # 3 - H
    ls = fractal.level_set_dimension(z)
    assert abs(ls["dimension"] - 1.7) < 0.15  # 2 - H


def test_generators_closed_forms_and_seeds():
    np.testing.assert_array_equal(
        landscape.paraboloid(5, 0.5)[[2, 0], [2, 0]], [0.0, 1.0]
    )
    np.testing.assert_allclose(landscape.cone(5, 0.5)[0, 2], 0.5, rtol=1e-15)
    a = landscape.diamond_square(33, seed=4)
    np.testing.assert_array_equal(a, landscape.diamond_square(33, seed=4))
    assert not np.array_equal(a, landscape.diamond_square(33, seed=5))
    assert landscape.spectral(65, hurst=0.5, seed=0).shape == (65, 65)
    with pytest.raises(ValueError, match="size"):
        landscape.diamond_square(30)
