from guardpay.cli.main import main

main()
