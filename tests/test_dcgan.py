import torch
from torch import nn

from gancourse.data import tensor_sampler
from gancourse.nets import dcgan_discriminator, dcgan_generator


def test_dcgan_shapes_and_output_range():
    g, d = dcgan_generator(latent_dim=16, width=8), dcgan_discriminator(width=8)
    images = g(torch.randn(5, 16))
    assert images.shape == (5, 1, 28, 28)
    assert images.min() >= -1 and images.max() <= 1  # tanh output
    assert d(images).shape == (5, 1)


def test_dcgan_follows_the_papers_guidelines():
    g, d = dcgan_generator(latent_dim=16, width=8), dcgan_discriminator(width=8)
    layers_g, layers_d = list(g), list(d)
    assert not any(isinstance(m, nn.Linear | nn.MaxPool2d) for m in layers_g + layers_d)
    assert isinstance(layers_g[-1], nn.Tanh) and isinstance(layers_g[-2], nn.ConvTranspose2d)
    assert any(isinstance(m, nn.ReLU) for m in layers_g)
    assert isinstance(layers_d[1], nn.LeakyReLU) and layers_d[1].negative_slope == 0.2
    assert not isinstance(layers_d[1], nn.BatchNorm2d)  # none on D's input layer
    assert any(isinstance(m, nn.BatchNorm2d) for m in layers_d)


def test_dcgan_initialisation_is_normal_with_std_0_02():
    g = dcgan_generator(latent_dim=100, width=64)
    weights = torch.cat([m.weight.flatten() for m in g if isinstance(m, nn.ConvTranspose2d)])
    assert abs(weights.mean().item()) < 1e-3 and abs(weights.std().item() - 0.02) < 1e-3
    norms = torch.cat([m.weight for m in g if isinstance(m, nn.BatchNorm2d)])
    assert abs(norms.mean().item() - 1) < 0.01


def test_tensor_sampler_draws_batches_from_the_data():
    data = torch.arange(10.0).reshape(10, 1)
    sample = tensor_sampler(data)
    batch = sample(64)
    assert batch.shape == (64, 1) and set(batch.flatten().tolist()) <= set(range(10))
