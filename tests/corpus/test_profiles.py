"""Encyclopedia-style entries: every fact of one entity, the name in every sentence, varied order."""
import random

from definemed.corpus.factbank import FactBank, profile_text


def test_profile_states_every_fact_of_its_entity_with_the_full_name():
    bank = FactBank(3, 6, 6)
    r = random.Random(0)
    for subject in bank.subjects:
        facts = bank.facts_of(subject)
        text = profile_text(facts, r)
        title, body = text.split("\n\n")
        sentences = [s for s in body.split(". ") if s]
        assert subject in title and len(facts) == 3
        assert all(subject in s for s in sentences)
        assert all(f.object in body for f in facts)


def test_profiles_vary_order_and_phrasing():
    bank = FactBank(3, 6, 6)
    facts = bank.facts_of(bank.drugs[0])
    texts = {profile_text(facts, random.Random(i)).split("\n\n")[1] for i in range(30)}
    assert len(texts) > 15


def test_excluded_names_are_never_used_and_the_plain_bank_is_unchanged():
    real = FactBank(1, 20, 20)
    other = FactBank(2, 30, 30, exclude=frozenset(real.subjects))
    assert not set(real.subjects) & set(other.subjects)
    assert FactBank(2, 30, 30).facts == FactBank(2, 30, 30, exclude=frozenset()).facts
