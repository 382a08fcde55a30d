"""`ln.Record`: record types and their records, `lookup()` for auto-complete and `search()` by name."""

from __future__ import annotations

import pytest

import lamin_core as ln


@pytest.fixture
def samples(instance):
    sample = ln.Record(name="Sample", is_type=True, description="a biological sample").save()
    donor = ln.Record(name="Donor", is_type=True).save()
    for name in ("sample_1", "sample_2", "Sample 3"):
        ln.Record(name=name, type=sample).save()
    ln.Record(name="donor_A", type=donor, description="sample donor from site A").save()
    ln.Record(name="sample_1", type=donor).save()  # the same name under another type is another record
    return sample, donor


def test_record_types_and_their_records(samples):
    sample, donor = samples
    assert sample.is_type and not ln.Record.get(name="sample_2").is_type
    assert [r.name for r in sample.records] == ["sample_1", "sample_2", "Sample 3"]
    assert sorted(r.name for r in ln.Record.filter(type=donor)) == ["donor_A", "sample_1"]
    assert ln.Record.filter(type__name="Sample").count() == 3
    assert ln.Record.filter(is_type=True).count() == 2


def test_a_saved_name_returns_the_same_record(samples):
    sample, donor = samples
    again = ln.Record(name="sample_1", type=sample)
    assert again.id == ln.Record.filter(name="sample_1", type=sample).one().id
    assert again.save().id == again.id and ln.Record.filter(name="sample_1").count() == 2  # nothing new was saved
    assert ln.Record(name="sample_1", type=donor).id not in (None, again.id)
    assert ln.Record(name="Sample", is_type=True).id == sample.id
    assert ln.Record(name="sample_9", type=sample).id is None  # a new name is a new record, unsaved until save()


def test_lookup_gives_records_as_attributes(samples):
    sample, donor = samples
    records = ln.Record.lookup()
    assert records.sample.id == sample.id and records.donor.id == donor.id
    assert records.sample_3.name == "Sample 3"  # names become identifiers
    # two records named sample_1 (of two types) are both reachable: the later one gets a suffix
    assert {records.sample_1.type_id, records.sample_1_2.type_id} == {sample.id, donor.id}
    assert {"sample", "sample_1", "sample_1_2", "sample_2", "sample_3", "donor", "donor_a"} <= set(dir(records))
    with pytest.raises(AttributeError, match="did you mean 'sample_2'"):
        records.sample_22
    # the records of one type only
    of_donor = ln.Record.filter(type=donor).lookup()
    assert sorted(of_donor.dict()) == ["donor_a", "sample_1"]


def test_search_ranks_by_name(samples):
    sample, donor = samples
    found = [r.name for r in ln.Record.search("sample")]
    assert found[0] == "Sample"  # the exact match first
    assert set(found[1:5]) == {"sample_1", "sample_2", "Sample 3"}  # then those starting with it
    assert "donor_A" in found and found.index("donor_A") > 4  # a match in the description counts less
    assert "Donor" not in found
    assert [r.name for r in ln.Record.search("donor")][:2] == ["Donor", "donor_A"]
    assert set(r.name for r in ln.Record.search("sampel")) >= {"Sample", "sample_1", "sample_2"}  # a typo still finds them
    within = [r.name for r in ln.Record.filter(type=sample).search("sample")]
    assert sorted(within) == ["Sample 3", "sample_1", "sample_2"]
    df = ln.Record.search("sample").to_dataframe()
    assert list(df["name"])[0] == "Sample"
