import re

import pytest
import torch

from zssr.method.data import (
    CropDraw,
    FatherPool,
    FatherSonCrops,
    FatherSonDataModule,
    collate_crops,
    detail_map,
    dihedral,
    dihedral_inverse,
    warp_crop,
)
from zssr.ops.resize import downscale, imresize


def test_dihedral_group_is_8_distinct_invertible_transforms():
    x = torch.arange(12.0).view(1, 3, 4)
    variants = [dihedral(x, k) for k in range(8)]
    assert len({tuple(v.flatten().tolist()) + tuple(v.shape) for v in variants}) == 8
    for k, v in enumerate(variants):
        assert torch.equal(dihedral_inverse(v, k), x)


def test_father_pool_sizes_and_size_proportional_sampling(bsd_lr):
    pool = FatherPool(bsd_lr, (2, 2), min_scale=0.5, n_copies=10)
    assert len(pool) == 11
    assert pool.fathers[-1].image is bsd_lr
    assert pool.fathers[0].image.shape[-2:] == (120, 80)
    areas = torch.tensor([f.image.shape[-1] * f.image.shape[-2] for f in pool.fathers], dtype=torch.float64)
    assert torch.allclose(pool.weights, areas / areas.sum())
    gen = torch.Generator().manual_seed(0)
    counts = torch.zeros(len(pool))
    ids = {id(f.image): i for i, f in enumerate(pool.fathers)}
    for _ in range(4000):
        counts[ids[id(pool.sample(gen))]] += 1
    assert torch.allclose(counts / counts.sum(), pool.weights.float(), atol=0.025)


def test_input_share_draws_the_input_that_often_and_the_copies_by_size(bsd_lr):
    pool = FatherPool(bsd_lr, (2, 2), min_scale=0.5, n_copies=10, input_share=0.5)
    areas = torch.tensor([f.image.shape[-1] * f.image.shape[-2] for f in pool.fathers[:-1]], dtype=torch.float64)
    assert pool.weights[-1] == 0.5 and torch.allclose(pool.weights[:-1], 0.5 * areas / areas.sum())
    gen = torch.Generator().manual_seed(0)
    assert abs(sum(pool.sample(gen) is bsd_lr for _ in range(4000)) / 4000 - 0.5) < 0.025
    assert FatherPool(bsd_lr, (2, 2), n_copies=0, input_share=0.2).weights.tolist() == [1.0]  # nothing else to draw
    with pytest.raises(ValueError, match="input_share must be a probability"):
        FatherPool(bsd_lr, (2, 2), input_share=1.5)


def test_zssr2018_rule_takes_smallest_father_at_least_the_drawn_scale(bsd_lr):
    big = torch.rand(3, 320, 480)
    from zssr.method.data import Father
    pool = FatherPool(bsd_lr, (2, 2), n_copies=0, extra=[Father(big, 2.0)], rule="zssr2018")
    gen = torch.Generator().manual_seed(1)
    picks = [pool.sample(gen) for _ in range(2000)]
    frac_big = sum(p is big for p in picks) / len(picks)
    # s ~ U(1, 2): any s > 1 needs the x2 father
    assert frac_big > 0.99
    with pytest.raises(ValueError, match="unknown father sampling rule"):
        FatherPool(bsd_lr, (2, 2), rule="nope")


def test_detail_draw_cuts_crops_where_a_son_loses_detail():
    # left half flat grey, right half noise: only crops reaching into the right half teach the net anything
    image = torch.full((3, 64, 128), 0.5)
    image[:, :, 64:] = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert detail_map(image, (2, 2), None)[:, :56].max() < 1e-6  # up(down()) restores the flat part exactly
    pool = FatherPool(image, (2, 2), n_copies=0)
    gen = torch.Generator().manual_seed(0)
    only_detail = CropDraw(pool, (2, 2), None, "detail", uniform_share=0.0)
    lefts = [only_detail.corner(0, 32, 32, gen)[1] for _ in range(500)]
    assert min(lefts) >= 64 - 32 - 4  # a crop wholly inside the flat half (plus the filter's reach) is never cut
    assert sum(left < 48 for left in lefts) / 500 < 0.1  # and mostly crops wholly inside the noise
    half = CropDraw(pool, (2, 2), None, "detail", uniform_share=0.5)
    weights = half.weights(0, 32, 32).view(33, 97)
    assert torch.isclose(weights.sum(), torch.tensor(1.0, dtype=weights.dtype))
    assert torch.allclose(weights[:, :20], torch.tensor(0.5 / weights.numel(), dtype=weights.dtype))  # flat: uniform
    uniform = CropDraw(pool, (2, 2), None, "uniform")
    assert sum(uniform.corner(0, 32, 32, gen)[1] < 32 for _ in range(500)) / 500 > 0.25
    with pytest.raises(ValueError, match="unknown crop draw"):
        CropDraw(pool, (2, 2), None, "edges")
    with pytest.raises(ValueError, match="crop_draw applies to augment=dihedral"):
        FatherSonDataModule(image, (2, 2), augment="affine", crop_draw="detail")


def test_pairs_are_son_upsampled_to_father_crop(bsd_lr):
    pool = FatherPool(bsd_lr, (2, 2), n_copies=0)
    crops = FatherSonCrops(pool, (2, 2), crop_size=64, rotations=False, flips=False, seed=3)
    gen = torch.Generator().manual_seed(3)
    pair = crops.make_pair(gen)
    assert pair["input"].shape == pair["target"].shape == (3, 64, 64)
    expected = imresize(downscale(pair["target"], 2).clamp(0, 1), 2, out_shape=(64, 64))
    assert torch.allclose(pair["input"], expected, atol=1e-6)
    # crops are real windows of the input
    t = pair["target"]
    found = any(torch.equal(bsd_lr[:, i:i + 64, j:j + 64], t) for i in range(0, 177) for j in range(0, 97))
    assert found


def test_small_images_use_smaller_crops_and_kernel_sons():
    small = torch.rand(3, 40, 56)
    kernel = torch.zeros(5, 5)
    kernel[2, 2] = 1.0
    pool = FatherPool(small, (2, 2), n_copies=0)
    crops = FatherSonCrops(pool, (2, 2), kernel=kernel, crop_size=128, seed=0)
    pair = crops.make_pair(torch.Generator().manual_seed(0))
    assert pair["target"].shape == (3, 40, 56) or pair["target"].shape == (3, 56, 40)
    son = downscale(pair["target"], 2, kernel)
    assert torch.allclose(pair["input"], imresize(son, 2, out_shape=pair["target"].shape[-2:]), atol=1e-6)


def test_noise_on_sons_and_seeded_streams(bsd_lr):
    pool = FatherPool(bsd_lr, (2, 2), n_copies=2)
    a = next(iter(FatherSonCrops(pool, (2, 2), noise_std=0.05, seed=7)))
    b = next(iter(FatherSonCrops(pool, (2, 2), noise_std=0.05, seed=7)))
    c = next(iter(FatherSonCrops(pool, (2, 2), noise_std=0.0, seed=7)))
    assert torch.equal(a["input"], b["input"]) and torch.equal(a["target"], c["target"])
    diff = (a["input"] - c["input"]).std()
    assert 0.02 < float(diff) < 0.08


def test_datamodule_serves_train_stream_and_reconstruction_item(bsd_lr):
    dm = FatherSonDataModule(bsd_lr, (2, 2), crop_size=32)
    batch = next(iter(dm.train_dataloader()))
    assert batch["input"].shape == (1, 3, 32, 32)
    val = next(iter(dm.val_dataloader()))
    assert val["target"].shape == (1, 3, 240, 160)
    expected = imresize(downscale(bsd_lr, 2).clamp(0, 1), 2, out_shape=(240, 160))
    assert torch.allclose(val["input"][0], expected)


def test_batches_stack_the_stream_and_cut_pairs_to_the_smallest(bsd_lr):
    one = FatherSonDataModule(bsd_lr, (2, 2), crop_size=32, seed=3)
    four = FatherSonDataModule(bsd_lr, (2, 2), crop_size=32, seed=3, batch_size=4)
    stream = iter(one.train_dataloader())
    singles = [next(stream) for _ in range(8)]
    batches = iter(four.train_dataloader())
    for first in (0, 4):  # batch b holds pairs 4b .. 4b+3 of the same seeded stream
        batch = next(batches)
        assert batch["input"].shape == (4, 3, 32, 32)
        for key in ("input", "target"):
            assert torch.equal(batch[key], torch.cat([s[key] for s in singles[first:first + 4]]))
    pairs = [{"input": torch.rand(3, h, w), "target": torch.rand(3, h, w)} for h, w in ((32, 32), (20, 28), (32, 24))]
    cut = collate_crops(pairs)
    assert cut["input"].shape == cut["target"].shape == (3, 3, 20, 24)
    assert torch.equal(cut["target"][1], pairs[1]["target"][:, :20, :24])
    assert torch.equal(cut["input"][2], pairs[2]["input"][:, :20, :24])
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        FatherSonDataModule(bsd_lr, (2, 2), batch_size=0)


def test_reconstruction_test_is_capped_to_a_centre_crop(bsd_lr):
    # bsd_lr is 240 x 160: capped at 100 the test is the 100 x 100 centre, made like the whole-image test
    dm = FatherSonDataModule(bsd_lr, (2, 2), crop_size=32, test_max_side=100)
    val = next(iter(dm.val_dataloader()))
    centre = bsd_lr[:, 70:170, 30:130]
    assert torch.equal(val["target"][0], centre)
    assert torch.allclose(val["input"][0], imresize(downscale(centre, 2).clamp(0, 1), 2, out_shape=(100, 100)))
    # a cap larger than the image changes nothing
    whole = next(iter(FatherSonDataModule(bsd_lr, (2, 2), crop_size=32, test_max_side=512).val_dataloader()))
    assert torch.equal(whole["target"][0], bsd_lr)


def test_warp_by_the_identity_or_a_quarter_turn_is_exact():
    image = torch.rand(3, 24, 24)
    gen = torch.Generator().manual_seed(0)
    same = warp_crop(image, torch.eye(2, dtype=torch.float64), (24, 24), gen)
    assert torch.allclose(same, image, atol=1e-5)
    quarter = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)  # x' = y, y' = -x
    turned = warp_crop(image, quarter, (24, 24), gen)
    assert any(torch.allclose(turned, dihedral(image, k), atol=1e-5) for k in range(8))
    # a crop that fits lies inside the image (at a sub-pixel offset): on a ramp, bicubic sampling inside the image
    # gives the ramp exactly, where a mirrored border would fold it
    y, x = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
    ramp = ((x + 2 * y) / 80).expand(3, 24, 24)
    for _ in range(20):
        window = warp_crop(ramp, torch.eye(2, dtype=torch.float64), (10, 10), gen)
        assert torch.allclose(window - window[:, :1, :1], ramp[:, :10, :10] - ramp[:, :1, :1], atol=1e-5)


def test_warp_by_half_scale_matches_downscaling():
    y, x = torch.meshgrid(torch.linspace(0, 1, 96), torch.linspace(0, 1, 96), indexing="ij")
    smooth = torch.stack([x, y, (x * y)]) * 0.8 + 0.1
    half = warp_crop(smooth, 0.5 * torch.eye(2, dtype=torch.float64), (48, 48), torch.Generator())
    assert torch.allclose(half, imresize(smooth, 0.5), atol=0.02)


def test_affine_mix_draws_plain_turned_and_warped_crops(bsd_lr):
    image = bsd_lr[:, 100:140, 60:96].contiguous()

    def crops(**affine):
        data = FatherSonDataModule(image, (2, 2), crop_size=16, augment="affine", affine=affine, seed=5)
        gen = torch.Generator().manual_seed(5)
        return [data.train_set.father_crop(gen) for _ in range(8)]

    def windows(turns):  # every 16x16 window of the image, under each of the given dihedral transforms
        return torch.cat([dihedral(image.unfold(1, 16, 1).unfold(2, 16, 1), k).flatten(3).permute(1, 2, 0, 3)
                          .reshape(-1, 3 * 256) for k in turns])

    def found(crop, table):
        return bool(((table - crop.flatten()).abs().amax(1) < 1e-6).any())

    plain, turned = windows([0]), windows(range(8))
    assert all(found(t, plain) for t in crops(as_is=1.0, no_interp=0.0))
    no_interp = crops(as_is=0.0, no_interp=1.0)
    assert all(found(t, turned) for t in no_interp) and not all(found(t, plain) for t in no_interp)
    warped = crops(as_is=0.0, no_interp=0.0)
    assert not any(found(t, turned) for t in warped)
    assert all(t.shape == (3, 16, 16) and 0 <= t.min() and t.max() <= 1 for t in warped)
    with pytest.raises(ValueError, match="unknown augmentation"):
        FatherSonDataModule(bsd_lr, (2, 2), augment="warp")
    with pytest.raises(ValueError, match="probabilities"):
        FatherSonDataModule(bsd_lr, (2, 2), augment="affine", affine={"as_is": 0.6, "no_interp": 0.6})


@pytest.mark.parametrize("override, message", [
    ("data.augment=warp", "data.augment must be one of dihedral, affine"),
    ("data.affine.border=wrap", "data.affine.border must be one of reflection, zeros"),
    ("data.affine.shear_sigma=-1", "data.affine.shear_sigma must be a number >= 0"),
    ("data.affine.as_is=0.6", "data.affine.as_is + data.affine.no_interp must be <= 1"),
    ("data.father_rule=big", "data.father_rule must be one of size, zssr2018"),
    ("data.input_share=2", "data.input_share must be a number >= 0 and <= 1"),
    ("data.input_share=0.5 data.father_rule=zssr2018", "data.input_share applies to data.father_rule=size"),
    ("data.crop_draw=edges", "data.crop_draw must be one of uniform, detail"),
    ("data.uniform_share=1.5", "data.uniform_share must be a number >= 0 and <= 1"),
    ("data.crop_draw=detail", "data.crop_draw applies to data.augment=dihedral"),
    ("data.batch_size=0", "data.batch_size must be an integer >= 1"),
])
def test_bad_augmentation_settings_are_one_line(override, message):
    from zssr.api import compose_config
    from zssr.errors import ZSSRError
    from zssr.run.settings import check_settings

    with pytest.raises(ZSSRError, match=re.escape(message)):
        check_settings(compose_config(["data.augment=affine", *override.split()]))
