from datetime import date
from importlib.metadata import entry_points

from crm_plugin_example.cadence import QuarterlyReview
from services.sales.cadence import AccountFacts


def facts(today, contacted=None, lifecycle="customer"):
    return AccountFacts(today=today, competition_level="medium", repeat_purchase_probability=50,
                        last_contacted_on=contacted, last_purchase_on=None,
                        shortest_product_life_cycle_days=None, lifecycle=lifecycle)


def test_registered_under_the_sales_cadence_extension_point():
    names = {ep.name: ep.value for ep in entry_points(group="crm.sales.cadence")}
    assert names["quarterly_review"] == "crm_plugin_example.cadence:QuarterlyReview"
    assert names["standard"] == "services.sales.cadence:StandardCadence"


def test_first_weekday_of_the_next_quarter():
    rule = QuarterlyReview()
    assert rule.next_contact_on(facts(date(2026, 11, 23))) == date(2027, 1, 1)  # a Friday
    assert rule.next_contact_on(facts(date(2026, 1, 5), contacted=date(2026, 2, 10))) == date(2026, 4, 1)
    assert rule.next_contact_on(facts(date(2026, 5, 5))) == date(2026, 7, 1)
    assert rule.next_contact_on(facts(date(2027, 7, 2))) == date(2027, 10, 1)
    assert rule.next_contact_on(facts(date(2026, 11, 23), lifecycle="former")) is None
