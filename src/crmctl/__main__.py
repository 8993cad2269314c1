from crmctl.entry import main

main()
