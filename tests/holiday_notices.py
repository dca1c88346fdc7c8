"""Holiday arrangements for years the holiday package does not cover yet, in the
form `flask calendar load` takes. The 2027 days are made up for the tests, in the
shape the State Council's notices take (every statutory holiday of the law off,
longer breaks with weekends worked in lieu): the real notice is entered by an
operator when it is published."""
from engine.holidays import enter, read

SAMPLE_2027 = """date,working,note
2027-01-01,no,元旦
2027-02-05~2027-02-12,no,春节
2027-01-31,yes,春节调休
2027-02-20,yes,春节调休
2027-04-05,no,清明节
2027-05-01~2027-05-05,no,劳动节
2027-04-25,yes,劳动节调休
2027-05-08,yes,劳动节调休
2027-06-09,no,端午节
2027-09-15,no,中秋节
2027-10-01~2027-10-07,no,国庆节
2027-09-26,yes,国庆节调休
2027-10-09,yes,国庆节调休
"""
SOURCE_2027 = "国办发明电〔2026〕（测试）"


def enter_2027(runtime, actor: str = "ops"):
    """Enter the sample 2027 notice as an operator would, settling the provisional dates."""
    return enter(runtime, read(2027, SAMPLE_2027, SOURCE_2027), actor)
