"""Demo data for `make run` (演示数据), kept apart from the app: `flask --app web demo`
seeds the models in processes/, an account for every role and, per procedure, cases at
different stages (`seed.py` runs each procedure's seeder in turn). Safe to run again."""
