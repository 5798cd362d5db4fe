"""TR-069 (CWMP) auto-configuration server: CPEs call in over HTTP/SOAP, Homeport discovers
their parameters, maps them to the telemetry report contract and delivers remote actions."""
