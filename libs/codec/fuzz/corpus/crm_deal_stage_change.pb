application/x-protobuf
crm-3 ´€Ø
salesforceb&
d-1acc-acmeNegotiation  øú*USD