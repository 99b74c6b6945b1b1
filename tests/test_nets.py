"""Models: output shapes, the residual and BatchNorm toggles, attention weights, seeded init."""
import torch

import torch.nn.functional as F

from fmlab.nets import CNN, MLP, SelfAttention, TinyTransformer, init_weights, num_params


def test_mlp_shapes_and_layers():
    model = MLP(64, 10, width=32, depth=5, batchnorm=True, residual=True)
    assert model(torch.randn(8, 64)).shape == (8, 10)
    assert len(model.linears()) == 7  # stem + 5 blocks + head


def test_residual_block_adds_its_input():
    model = init_weights(MLP(4, 2, width=4, depth=1, residual=True), 0)
    block = model.blocks[0]
    x = torch.randn(3, 4)
    assert torch.allclose(block(x), x + torch.relu(block.linear(x)))


def test_cnn_shapes_and_cam_layer_resolution():
    model = CNN(3, 3, width=8, depth=3, batchnorm=True, residual=True)
    X = torch.randn(2, 3, 32, 32)
    assert model(X).shape == (2, 3)
    seen = []
    model.cam_layer.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    model(X)
    assert seen[0] == (2, 8, 8, 8)


def test_transformer_returns_attention_rows_that_sum_to_one():
    model = TinyTransformer(vocab=11, num_classes=4, max_len=9, dim=16, heads=2, layers=3)
    logits, attentions = model(torch.randint(0, 11, (5, 9)), return_attention=True)
    assert logits.shape == (5, 4)
    assert len(attentions) == 3 and attentions[0].shape == (5, 2, 9, 9)
    assert torch.allclose(attentions[0].sum(-1), torch.ones(5, 2, 9))
    per_token = TinyTransformer(11, 4, 9, dim=16, pool="none")
    assert per_token(torch.randint(0, 11, (5, 9))).shape == (5, 9, 4)


def test_init_weights_is_seeded_and_ignores_the_global_rng():
    a = init_weights(MLP(10, 3), 7)
    torch.manual_seed(123)
    torch.rand(100)
    b = init_weights(MLP(10, 3), 7)
    c = init_weights(MLP(10, 3), 8)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.stem.weight, c.stem.weight)
    assert num_params(a) == sum(p.numel() for p in c.parameters())


def test_init_weights_matches_pytorch_default_scale():
    layer = init_weights(MLP(256, 3), 0).stem  # default Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    bound = 1 / 256 ** 0.5
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound


def test_our_self_attention_equals_pytorch_scaled_dot_product_attention():
    torch.manual_seed(0)
    attn = SelfAttention(dim=8, heads=2)
    x = torch.randn(3, 5, 8)  # (B, T, C)
    ours, weights = attn(x)
    q, k, v = (t.view(3, 5, 2, 4).transpose(1, 2) for t in attn.qkv(x).split(8, dim=2))  # (B, H, T, D)
    theirs = attn.out(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(3, 5, 8))
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert torch.allclose(weights.sum(dim=-1), torch.ones(3, 2, 5))
