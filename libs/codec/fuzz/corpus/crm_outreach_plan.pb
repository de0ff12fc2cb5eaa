
crm-7 ´€Ø
salesforce‚>
	sprint-q4acc-acme"ae-1*
 ´€Ø µºØ:Q4 call blitz