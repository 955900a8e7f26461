
 a1b2c3d4e5f6.1.16700000000000001 a1b2c3d4e5f6.1.16700000000000002ßÿÿÿÿÿÿÿÿÿ€Ğ•ÿ¼1 úÑ•ÿ¼12POST /ordersHPŒ'Xb
http.methodPOSTb
status_code500b
urlhttp://checkout/ordersjgğÑ•ÿ¼1
eventerror-

error.kindjava.lang.IllegalStateException
messagestock service failed ŠĞ•ÿ¼1 ¼Ğ•ÿ¼12validateCart@KÆĞ•ÿ¼1 æÑ•ÿ¼12/stock/reserve:
stock:8080@HP'Xb
http.methodGET"checkout*checkout-7d9f@10.0.0.5