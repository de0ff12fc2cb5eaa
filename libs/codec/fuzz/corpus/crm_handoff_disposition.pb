
crm-5 ´€Ø
salesforcer+
ho-1acc-acmeae-1 (2call back in Q1