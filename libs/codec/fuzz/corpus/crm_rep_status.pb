
crm-6 ´€Ø
salesforcez-
ae-1
 ´€Ø Ø"Europe/Berlin*emea