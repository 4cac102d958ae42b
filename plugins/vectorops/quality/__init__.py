"""The validation gate: Great Expectations suites, parity with the source, sampled search checks."""
