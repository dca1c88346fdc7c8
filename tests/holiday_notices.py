"""Holiday arrangements for years the holiday package does not cover yet, in the
form `flask calendar load` takes. The 2027 days are made up for the tests: the
real notice is entered by an operator when the State Council publishes it."""
SAMPLE_2027 = """date,working,note
2027-01-01,no,元旦
2027-02-07,yes,春节调休
2027-02-08,no,春节
2027-02-09,no,春节
2027-02-10,no,春节
2027-02-11,no,春节
2027-02-12,no,春节
"""
