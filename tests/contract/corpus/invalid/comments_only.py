# expect: empty-file@1
# The reply held only this comment.
