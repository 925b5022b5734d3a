"""Real pretrained models: O-Net (+ smooth twin), MediaPipe face landmarks, MiniLM."""

from __future__ import annotations

import numpy as np
import pytest

from smpfast import forensics

# hand-labelled from the image (x, y pixels): eye centres, nose tip, mouth corners
ASTRONAUT_LANDMARKS = np.array(
    [[205.0, 98.0], [247.0, 100.0], [225.0, 122.0], [200.0, 140.0], [243.0, 141.0]]
)


@pytest.fixture(scope="module")
def onet_inputs() -> tuple[np.ndarray, np.ndarray]:
    pytest.importorskip("torch")
    pytest.importorskip("skimage")
    from smpfast.forensics.models import onet

    try:
        onet.onet_weights_path()
    except ImportError as exc:
        pytest.skip(str(exc))
    crops, boxes = onet.face_crops(3, step=8)
    return onet.preprocess(crops), boxes


def test_onet_torch_and_smpfast_agree_and_find_the_landmarks(onet_inputs: tuple) -> None:
    import torch

    from smpfast.forensics.models import onet

    x, boxes = onet_inputs
    with torch.no_grad():
        prob, out_t = onet.onet_torch(with_prob=True)(torch.from_numpy(x))
    out_n = onet.onet_nets()(x)
    assert out_n.dtype == np.float32 and out_n.shape == (9, 14)
    np.testing.assert_allclose(out_n, out_t.numpy(), rtol=0, atol=1e-5)
    assert (prob.numpy() > 0.99).all()
    pts = onet.landmarks_in_image(out_n, boxes)
    err = np.linalg.norm(pts - ASTRONAUT_LANDMARKS[None], axis=-1)
    assert err[4].max() < 8.0, err[4]  # the centred box: every landmark within 8 px
    assert err.mean() < 10.0, err  # boxes off by 8 px in x and y: still on the features
    for smooth_act in ("softplus", "elu"):
        with torch.no_grad():
            t = onet.onet_torch(smooth=True, activation=smooth_act)(torch.from_numpy(x))
        n = onet.onet_nets(smooth=True, activation=smooth_act)(x)
        np.testing.assert_allclose(n, t.numpy(), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="activation must be one of"):
        onet.onet_nets(smooth=True, activation="relu")


def test_onet_is_piecewise_linear_and_its_twin_smooth(onet_inputs: tuple) -> None:
    from smpfast.forensics.models import onet

    x, _ = onet_inputs
    kw = {"n_paths": 6, "T": 24, "progress": False, "batch_size": 512}
    d = forensics.detect(forensics.fingerprint(onet.onet_torch(), x, **kw))
    assert d.label == "piecewise-linear", d
    d = forensics.detect(forensics.fingerprint(onet.onet_torch(smooth=True), x, **kw))
    assert d.label == "smooth", d


def test_onet_layer_profile_shows_where_kinks_are_born(onet_inputs: tuple) -> None:
    from smpfast.forensics.models import onet

    x, _ = onet_inputs
    prof = forensics.layer_profile(onet.onet_torch(), x, n_paths=2, T=16, progress=False)
    by_name = dict(zip(prof.names, prof.kink_share, strict=True))
    assert prof.smp_run[prof.names.index("conv1")] < 1e-9 * prof.smp_run[-1]  # linear layer
    assert by_name["prelu1"] > 0.5  # kinks are born at the first PReLU
    assert prof.names[-1] == "dense6_23"


def test_facemesh_is_piecewise_linear() -> None:
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("skimage")
    from smpfast.forensics.models import facemesh

    try:
        model = facemesh.FaceMesh()
    except ImportError as exc:
        pytest.skip(str(exc))
    x, boxes = facemesh.astronaut_face_192(2, step=8)
    y = model(x)
    assert y.shape == (4, 1404)
    nose = y[0].reshape(468, 3)[1, :2] * boxes[0, 2] / 192 + boxes[0, [1, 0]]
    assert np.linalg.norm(nose - ASTRONAUT_LANDMARKS[2]) < 12.0
    fp = forensics.fingerprint(model, x, n_paths=4, T=16, dtype=np.float32, progress=False,
                               batch_size=128)
    assert fp.output_shape == (1404,)
    assert forensics.detect(fp).label == "piecewise-linear"


def test_minilm_is_smooth() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    from smpfast.forensics.models import minilm

    try:
        module, x = minilm.load_minilm(length=8)
    except ImportError as exc:
        pytest.skip(str(exc))
    fp = forensics.fingerprint(module, x, n_paths=4, T=16, progress=False, batch_size=256)
    assert fp.output_shape == (384,)
    assert forensics.detect(fp).label == "smooth"
