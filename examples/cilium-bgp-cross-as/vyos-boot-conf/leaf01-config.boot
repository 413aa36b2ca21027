/* leaf01: the configuration the seed builds with `set` commands (section 5.1), as VyOS
 * saves it in /opt/vyatta/etc/config/config.boot. bgplane translates it to FRR. */
interfaces {
    ethernet eth0 {
        address dhcp
    }
    ethernet eth1 {
        address 10.0.5.1/24
    }
    ethernet eth2 {
        address 10.0.101.2/24
    }
    ethernet eth3 {
        address 10.0.103.2/24
    }
    loopback lo {
    }
}
nat {
    source {
        rule 10 {
            description "Do NOT NAT traffic to private networks"
            destination {
                address 10.0.0.0/8
            }
            exclude
        }
        rule 100 {
            outbound-interface {
                name eth0
            }
            source {
                address 10.0.5.0/24
            }
            translation {
                address masquerade
            }
        }
    }
}
protocols {
    bgp {
        address-family {
            ipv4-unicast {
                network 10.0.5.0/24 {
                }
            }
        }
        neighbor 10.0.101.1 {
            address-family {
                ipv4-unicast {
                }
            }
            remote-as 500
        }
        neighbor 10.0.103.1 {
            address-family {
                ipv4-unicast {
                }
            }
            remote-as 1000
        }
        neighbor 10.0.5.11 {
            address-family {
                ipv4-unicast {
                    route-reflector-client
                }
            }
            remote-as 65005
        }
        neighbor 10.0.5.12 {
            address-family {
                ipv4-unicast {
                    route-reflector-client
                }
            }
            remote-as 65005
        }
        parameters {
            router-id 10.0.5.1
        }
        system-as 65005
    }
}
system {
    host-name leaf01
}
// Warning: Do not remove the following line.
// vyos-config-version: "bgp@5:interfaces@32:nat@8:system@27"
