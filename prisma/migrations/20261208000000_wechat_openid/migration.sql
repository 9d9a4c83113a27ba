-- The wechat channel's address: the customer's openid on the bank's official account. Contact data like email and
-- phone (a column, not an attribute: attributes travel to the journey engine), cleared by erasure.
ALTER TABLE "customers" ADD COLUMN "wechat_openid" TEXT;
