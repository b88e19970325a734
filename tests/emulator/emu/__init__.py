# SPDX-License-Identifier: Apache-2.0
"""awsemu: a loopback AWS endpoint for smstudio's tests, benchmarks and demo.

Modules:
  cli         command line, start-up, ready line, SIGTERM
  server      HTTP(S) server, protocol detection, auth, dispatch
  admin       the unsigned admin API under /_emu/ (out-of-band calls, patch)
  faults      traffic control: injected faults, latency, rate caps
  imds        IMDSv2 and the container credential endpoint
  persist     --state FILE: save and load the services' data
  sigv4       key table and SigV4 verification with botocore's signer
  models      botocore service models indexed by X-Amz-Target and Action
  validation  input checks against the model, answered as AWS words them
  querycodec  AWS Query: form fields to params, output shapes to XML
  jsoncodec   AWS JSON 1.1: output shapes to JSON
  errors      AwsError and the per-protocol auth error table
  state       in-memory state behind one lock, call and outcome counters
  services/   one module per AWS service with its operation handlers
"""
