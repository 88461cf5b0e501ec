"""The hidden truth the env hands out for analysis (issue 27's reveal): whether each offer sold, and the
customer's traits when a conversation ends. Named hidden_*, in info only: the observation is unchanged."""

from __future__ import annotations

import numpy as np

from cs_env.domain import ResponseStrategy as S
from cs_env.env import CustomerSupportEnv

HAPPY_SHOPPER = {"sentiment": "delighted", "inquiry": "discount_inquiry"}
PINS = {"complexity": 0.3, "savvy": 0.8, "openness": 0.9, "patience": 0.7, "needs_specialist": False}


def test_the_last_step_reveals_the_traits_as_the_customer_arrived() -> None:
    env = CustomerSupportEnv("retail")
    obs, info = env.reset(seed=3, options={**PINS, "sentiment": "satisfied"})
    keys = set(info)
    done, steps = False, 0
    while not done:
        obs, _, terminated, truncated, info = env.step(int(S.EDUCATIONAL))
        done, steps = terminated or truncated, steps + 1
        assert set(info) == keys  # numbers only, the same keys on every step (TorchRL specs them at reset)
    traits = env.hidden_traits()
    assert {k: traits[k] for k in PINS} == PINS  # as pinned: patience as they arrived, not what is left
    assert 0 <= traits["patience_left"] < PINS["patience"]  # every turn costs patience
    assert traits["offers_sold"] == 0 and obs.shape == (18,)


def test_an_offer_sells_only_to_an_open_customer_and_the_sale_is_paid() -> None:
    """hidden_offer_sold is the kernel's own draw: never with a closed customer; with an open, happy one
    often, and exactly where the business reward carries a sale."""
    sold = {0.0: 0, 1.0: 0}
    for openness in sold:
        for seed in range(60):
            env = CustomerSupportEnv("retail")
            env.reset(seed=seed, options={**HAPPY_SHOPPER, "openness": openness})
            _, _, terminated, truncated, info = env.step(int(S.PRODUCT_RECOMMEND))
            assert isinstance(info["hidden_offer_sold"], np.int64) and info["hidden_offer_sold"] in (0, 1)
            sold[openness] += info["hidden_offer_sold"]
            if not (terminated or truncated):  # (a customer who leaves at once costs more than a sale pays)
                paid = info["reward_business_impact"] > 0
                assert paid == info["hidden_offer_sold"]  # a sale is paid on its turn, and only a sale
            assert env.hidden_traits()["offers_sold"] == int(info["hidden_offer_sold"])
            if not (terminated or truncated):
                _, _, _, _, again = env.step(int(S.PRODUCT_RECOMMEND))  # a repeat never sells
                assert not again["hidden_offer_sold"]
    assert sold[0.0] == 0 and sold[1.0] > 10, sold


def test_the_observation_does_not_change_with_the_sale() -> None:
    """Two customers alike but for the sale's draw see the same observation layout: offers_made counts offers,
    never sales (policies read the observation only)."""
    env = CustomerSupportEnv("retail")
    env.reset(seed=0, options={"openness": 1.0, "sentiment": "delighted", "inquiry": "discount_inquiry"})
    obs, *_ = env.step(int(S.UPSELL))
    assert obs[16] == np.float32(0.5)
