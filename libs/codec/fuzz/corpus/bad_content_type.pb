text/xml
mk-1 ´€Ømarketo"acc-acme2jane@acme.example8J	q4-launch