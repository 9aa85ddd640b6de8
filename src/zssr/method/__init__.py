"""The paper's method for one image: father/son crops (:mod:`.data`), the network (:mod:`.net`), its training
(:mod:`.module`, :mod:`.lr_policy`, :mod:`.callbacks`), gradual SR (:mod:`.gradual`), the geometric ensemble and
back-projection (:mod:`.inference`), and how each is set up for the run's kernel (:mod:`.plan`)."""
