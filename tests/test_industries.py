"""Industries are data: the shipped files load, a new file adds an industry, bad files say what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cs_env import CustomerSupportEnv
from cs_env.industries import INDUSTRY_DIR, IndustryDataError, default_catalog, load_catalog
from cs_env.policies import HeuristicPolicy

EXPECTED = {
    "bfsi": ["account_balance", "transaction_dispute", "fraud_report", "loan_application", "investment_advice"],
    "retail": ["order_status", "product_return", "shipping_issue", "discount_inquiry", "product_recommendation"],
    "tech": ["technical_support", "api_integration", "billing_dispute", "bug_report", "feature_request"],
}


def test_shipped_catalog_has_the_fifteen_inquiries_in_observation_order() -> None:
    catalog = default_catalog()
    assert catalog.industry_names == ("bfsi", "retail", "tech")
    assert [i.name for i in catalog.inquiries] == [n for names in EXPECTED.values() for n in names]
    assert [i.id for i in catalog.inquiries] == list(range(15))
    assert len(catalog.digest) == 64


@pytest.mark.parametrize("industry", ["bfsi", "retail", "tech"])
def test_each_industry_only_brings_its_own_inquiries(industry: str) -> None:
    env = CustomerSupportEnv(industry)
    seen = {env.named_info(env.reset(seed=seed)[1])["inquiry_type"] for seed in range(400)}
    assert seen == set(EXPECTED[industry])


def test_mixed_draws_every_industry_with_consistent_inquiries() -> None:
    env = CustomerSupportEnv("mixed")
    infos = (env.named_info(env.reset(seed=s)[1]) for s in range(1500))
    pairs = {(info["industry"], info["inquiry_type"]) for info in infos}
    assert {industry for industry, _ in pairs} == set(EXPECTED)
    assert all(inquiry in EXPECTED[industry] for industry, inquiry in pairs)
    assert len(pairs) == 15


HEALTH = """
name = "health"
title = "Healthcare"
tier_shares = { basic = 0.6, premium = 0.3, vip = 0.1 }

[inquiries.appointment]
id = 15
share = 1.0
urgency = [0.2, 0.2, 0.2, 0.2, 0.2]
sentiment = [0.1, 0.2, 0.4, 0.2, 0.1]
complexity = 0.3
savvy = 0.4
openness = 0.2
patience = 0.6
specialist = 0.1
sales_fit = 0.1
[inquiries.appointment.progress]
empathetic = 0.0
technical = 0.2
product_recommend = 0.0
apologetic = 0.0
educational = 0.3
quick_resolution = 0.6
upsell = 0.0

[inquiries.appointment.mood]
empathetic = 0.05
technical = 0.0
product_recommend = -0.05
apologetic = 0.02
educational = 0.0
quick_resolution = 0.02
upsell = -0.05
"""


@pytest.fixture
def industry_dir(tmp_path: Path) -> Path:
    for path in INDUSTRY_DIR.glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_adding_an_industry_is_adding_a_file(industry_dir: Path) -> None:
    (industry_dir / "health.toml").write_text(HEALTH)
    catalog = load_catalog(industry_dir)
    assert catalog.industry_names == ("bfsi", "health", "retail", "tech")
    env = CustomerSupportEnv("health", catalog=catalog)
    assert env.observation_space.high[0] == 15
    obs, codes = env.reset(seed=0)
    info = env.named_info(codes)
    assert info["industry"] == "health" and info["inquiry_type"] == "appointment" and obs[0] == 15
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(HeuristicPolicy(catalog)(obs))
        done = terminated or truncated
    mixed = CustomerSupportEnv("mixed", catalog=catalog)
    assert "health" in {mixed.named_info(mixed.reset(seed=s)[1])["industry"] for s in range(100)}


@pytest.mark.parametrize(
    ("edit", "key", "problem"),
    [
        (("share = 0.30", "share = 0.50"), "inquiries.*.share", "shares sum to 1.2000, not 1"),
        (("complexity = 0.15", "complexity = 1.5"), "inquiries.account_balance.complexity", "1.5 is outside"),
        (("savvy = 0.50", 'savvy = "high"'), "inquiries.account_balance.savvy", "expected a number"),
        (
            ("urgency = [0.35, 0.35, 0.20, 0.08, 0.02]", "urgency = [0.5, 0.5]"),
            "inquiries.account_balance.urgency",
            "expected 5 non-negative probabilities",
        ),
        (
            ("empathetic = 0.00, technical = 0.30", "empathetic = 0.00, technicl = 0.30"),
            "inquiries.account_balance.progress.technicl",
            "unknown strategy; valid: empathetic, technical",
        ),
        (("id = 0\n", "id = 3\n"), "inquiries.loan_application.id", "id 3 is already used by 'account_balance'"),
        (("id = 4\n", "id = 15\n"), "inquiries.investment_advice.id", "must be 0..14; missing: 4"),
        (('name = "bfsi"', 'name = "bank"'), "name", "'bank' must match the file name 'bfsi'"),
        (("tier_shares = { basic = 0.55,", "tier_shares = { basic = 0.75,"), "tier_shares", "sum to 1.2000"),
    ],
)
def test_malformed_file_names_file_key_and_problem(
    industry_dir: Path, edit: tuple[str, str], key: str, problem: str
) -> None:
    path = industry_dir / "bfsi.toml"
    text = path.read_text()
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(IndustryDataError) as err:
        load_catalog(industry_dir)
    message = str(err.value)
    assert str(industry_dir) in message
    assert f"'{key}'" in message and problem in message


def test_a_missing_key_is_named(industry_dir: Path) -> None:
    path = industry_dir / "tech.toml"
    path.write_text(path.read_text().replace("patience = 0.55\n", "", 1))
    with pytest.raises(IndustryDataError, match=r"tech\.toml: key 'inquiries\.bug_report\.patience': missing"):
        load_catalog(industry_dir)


def test_broken_toml_names_the_file(industry_dir: Path) -> None:
    (industry_dir / "retail.toml").write_text("name = [unclosed")
    with pytest.raises(IndustryDataError, match=r"retail\.toml: cannot be read as TOML"):
        load_catalog(industry_dir)


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(IndustryDataError, match="no industry files"):
        load_catalog(tmp_path)
