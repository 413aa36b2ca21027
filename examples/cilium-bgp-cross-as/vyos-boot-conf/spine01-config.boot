/* spine01: the configuration the seed builds with `set` commands (section 5.1), as VyOS
 * saves it in /opt/vyatta/etc/config/config.boot. bgplane translates it to FRR. */
interfaces {
    ethernet eth0 {
        address dhcp
    }
    ethernet eth1 {
        address 10.0.101.1/24
    }
    ethernet eth2 {
        address 10.0.104.1/24
    }
    loopback lo {
    }
}
protocols {
    bgp {
        neighbor 10.0.101.2 {
            address-family {
                ipv4-unicast {
                }
            }
            remote-as 65005
        }
        neighbor 10.0.104.2 {
            address-family {
                ipv4-unicast {
                }
            }
            remote-as 65010
        }
        parameters {
            router-id 10.0.101.1
        }
        system-as 500
    }
}
system {
    host-name spine01
}
// Warning: Do not remove the following line.
// vyos-config-version: "bgp@5:interfaces@32:nat@8:system@27"
