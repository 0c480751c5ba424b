import pytest
import torch

from app.engine.models.vae import MotionVAE, VAEConfig

CFG = VAEConfig(width=32, depth=1, latent_dim=6)


def test_vae_gives_one_latent_per_four_frames_and_decodes_back_to_frames():
    torch.manual_seed(0)
    vae = MotionVAE(CFG)
    mu, logvar = vae.encode(torch.randn(2, 24, 251))
    assert mu.shape == logvar.shape == (2, 6, 6)
    assert vae.decode(mu).shape == (2, 24, 251)
    recon, _, _ = vae(torch.randn(2, 24, 251), torch.Generator().manual_seed(0))
    assert recon.shape == (2, 24, 251)


def test_vae_latents_are_local_in_time():
    # a latent sequence is what makes in-painting possible: a change late in the take must not move early latents
    torch.manual_seed(0)
    vae = MotionVAE(CFG)
    x = torch.randn(1, 64, 251)
    y = x.clone()
    y[:, 48:] += 1.0
    with torch.no_grad():
        a, b = vae.encode(x)[0], vae.encode(y)[0]
    torch.testing.assert_close(a[:, :8], b[:, :8])
    assert (a[:, 12:] - b[:, 12:]).abs().max() > 1e-4


def test_vae_rejects_lengths_that_are_not_whole_latents():
    with pytest.raises(ValueError, match="multiple of 4"):
        MotionVAE(CFG).encode(torch.randn(1, 10, 251))
