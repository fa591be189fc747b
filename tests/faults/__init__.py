"""The fault layer: real peers on loopback that misbehave on purpose.

`aws_proxy` stands in front of moto_server and throttles, fails, holds or drops chosen AWS
operations; `api_peer` is a hostile detection API server for the demo clients.
"""
